//! Watching a connection's socket read: counts input that reaches the socket before the
//! connection's task runs, and publishes when the connection has run all of it (Pub/Sub
//! publishers wait on that, docs/pubsub.md "Ordering").

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
        }
    }
}

/// An `InputWaker` and the `Waker` made from it.
pub(super) struct ReadWaker {
    inner: Arc<InputWaker>,
    waker: Waker,
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
        let ReadWaker { inner, waker } = self.waker;
        {
            let mut task = inner.task.lock();
            if !task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let info = &inner.info;
        let epoch = info.input_arrivals.fetch_add(1, Ordering::AcqRel);
        let before = inner.before_last_poll.swap(epoch, Ordering::AcqRel);
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
