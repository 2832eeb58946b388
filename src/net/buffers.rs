//! A connection's buffer sizes as CLIENT LIST shows them (`qbuf`, `qbuf-free`, `argv-mem`,
//! `omem`, and in `tot-mem` the partial request's argument count), published when they change.

use crate::clients::ClientInfo;
use crate::protocol::RequestDecoder;
use bytes::BytesMut;

/// The sizes last published: the unparsed input, its free room, the arguments and argument
/// count of a request partly arrived, and the output a write may leave pending.
#[derive(Default)]
pub(super) struct Published(usize, usize, usize, usize, usize);

impl Published {
    /// Published for CLIENT LIST before the replies go out, only when they change: the
    /// unparsed part of the query buffer and its free room, the arguments of a request partly
    /// arrived, and output a write this big may leave pending (smaller writes go out at once;
    /// Redis too has written them when another client looks).
    pub(super) fn publish(
        &mut self,
        info: &ClientInfo,
        decoder: &RequestDecoder,
        input: &BytesMut,
        output: &BytesMut,
    ) {
        let (parsed, argv_mem, argc) = decoder.parsed();
        let pending_output = if output.len() >= super::io::READ_CHUNK_BYTES {
            output.len()
        } else {
            0
        };
        let now = Published(
            input.len() - parsed,
            input.capacity() - input.len(),
            argv_mem,
            argc,
            pending_output,
        );
        // The free room moves with every request consumed: republished per KiB, not per batch.
        if now.coarse() != self.coarse() {
            let mut details = info.details.lock();
            details.query_buf = now.0;
            details.query_buf_free = now.1;
            details.argv_mem = now.2;
            details.argc = now.3;
            details.output_buf = now.4;
            *self = now;
        }
    }

    /// The pending output published went out with the write that followed.
    pub(super) fn output_written(&mut self, info: &ClientInfo) {
        if self.4 > 0 {
            self.4 = 0;
            info.details.lock().output_buf = 0;
        }
    }

    fn coarse(&self) -> (usize, usize, usize, usize, usize) {
        (self.0, self.1 / 1024, self.2, self.3, self.4)
    }
}
