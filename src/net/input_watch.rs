//! The wakers of a connection waiting for input: the socket read's (`ReadWaker`, which counts
//! input that reaches the socket before the connection's task runs, and publishes when the
//! connection has run all of it: Pub/Sub publishers wait on that, docs/pubsub.md "Ordering"),
//! and its other wake sources' (`Attention`: pushed frames, a kill, shutdown).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

/// The waker of a connection's socket read: counts an arrival of input, before the connection's
/// task runs, then wakes the task.
pub(super) struct InputWaker {
    info: Arc<crate::clients::ClientInfo>,
    task: parking_lot::Mutex<Option<Waker>>,
    /// The epoch the previous poll of the read opened from: once polled again, all input counted
    /// up to it has been read and run.
    before_last_poll: std::sync::atomic::AtomicU64,
}

impl ReadWaker {
    /// The waker of the connection `info` describes, before its first read; the `Waker` is
    /// built once for the connection (one made from the `Arc` on every poll of the read cost a
    /// reference count increment and decrement each).
    pub(super) fn new(info: Arc<crate::clients::ClientInfo>) -> ReadWaker {
        let inner = Arc::new(InputWaker {
            info,
            task: parking_lot::Mutex::new(None),
            before_last_poll: std::sync::atomic::AtomicU64::new(0),
        });
        ReadWaker {
            waker: Waker::from(inner.clone()),
            inner,
            stored: Default::default(),
        }
    }
}

/// An `InputWaker` and the `Waker` made from it.
pub(super) struct ReadWaker {
    inner: Arc<InputWaker>,
    waker: Waker,
    /// The identity (data and vtable addresses, what `Waker::will_wake` compares) of the task
    /// waker last stored in `inner.task`: a poll by the same task, the usual case, then takes
    /// no lock. Written only by the connection's own polls (atomics only for `Send`).
    stored: [std::sync::atomic::AtomicUsize; 2],
}

impl Wake for InputWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.info.input_arrivals.fetch_add(1, Ordering::AcqRel);
        if let Some(task) = self.task.lock().as_ref() {
            task.wake_by_ref();
        }
    }
}

/// A socket read polled with `InputWaker`. Each poll opens a new arrival epoch
/// (`input_arrivals` + 1): input counted up to the old value is in the socket by then, so this
/// read takes it, and once the next poll comes it has been run (`input_done_through`). When the
/// read finds input the connection is busy (`input_idle_at` = u64::MAX); when it finds none it
/// is idle at the new epoch, until the waker counts an arrival.
pub(super) struct InputWatch<'a, F> {
    waker: &'a ReadWaker,
    read: F,
}

impl<'a, F> InputWatch<'a, F> {
    pub(super) fn new(waker: &'a ReadWaker, read: F) -> Self {
        InputWatch { waker, read }
    }
}

impl<F: Future + Unpin> Future for InputWatch<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let ReadWaker {
            inner,
            waker,
            stored,
        } = self.waker;
        let identity = [
            cx.waker().data() as usize,
            cx.waker().vtable() as *const _ as usize,
        ];
        if stored[0].load(Ordering::Relaxed) != identity[0]
            || stored[1].load(Ordering::Relaxed) != identity[1]
        {
            *inner.task.lock() = Some(cx.waker().clone());
            stored[0].store(identity[0], Ordering::Relaxed);
            stored[1].store(identity[1], Ordering::Relaxed);
        }
        let info = &inner.info;
        let epoch = info.input_arrivals.fetch_add(1, Ordering::AcqRel);
        // Only these polls write it: no read-modify-write needed.
        let before = inner.before_last_poll.load(Ordering::Relaxed);
        inner.before_last_poll.store(epoch, Ordering::Relaxed);
        info.input_done_through.store(before, Ordering::Release);
        let mut inner_cx = TaskContext::from_waker(waker);
        let polled = Pin::new(&mut self.read).poll(&mut inner_cx);
        let idle_at = if polled.is_ready() {
            u64::MAX
        } else {
            epoch + 1
        };
        info.input_idle_at.store(idle_at, Ordering::Release);
        polled
    }
}

/// The waker the connection's other wake sources (pushed frames, a kill, shutdown) are polled
/// with. Their waiters stay registered from one request to the next, and polling a registered
/// `Notified` again takes its list's lock; so they are polled once, and again only after one of
/// them has called this waker (`take_fired`), not on every wake of the read.
pub(super) struct Attention {
    inner: Arc<AttentionWaker>,
    waker: Waker,
}

pub(super) struct AttentionWaker {
    fired: std::sync::atomic::AtomicBool,
    /// The read's waker, whose task waker (kept current by every poll of the read) is the one
    /// to wake; waking through it directly counts no input arrival.
    read: Arc<InputWaker>,
}

impl Wake for AttentionWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        if let Some(task) = self.read.task.lock().as_ref() {
            task.wake_by_ref();
        }
    }
}

impl Attention {
    /// The attention waker of the connection whose read `read` watches. The read must be polled
    /// (it records the task's waker) before anything is polled with this one.
    pub(super) fn new(read: &ReadWaker) -> Attention {
        let inner = Arc::new(AttentionWaker {
            fired: std::sync::atomic::AtomicBool::new(false),
            read: read.inner.clone(),
        });
        Attention {
            waker: Waker::from(inner.clone()),
            inner,
        }
    }

    pub(super) fn waker(&self) -> &Waker {
        &self.waker
    }

    /// True once after a wake source called the waker.
    pub(super) fn take_fired(&self) -> bool {
        // A load first: nothing fired is the usual case, and needs no read-modify-write.
        self.inner.fired.load(Ordering::Acquire) && self.inner.fired.swap(false, Ordering::AcqRel)
    }
}
