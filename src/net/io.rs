//! What every RESP connection loop (`client`, `blocked`, `replica`) reads and writes through:
//! the stream it serves and the read chunk size.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// Read buffer capacity kept between reads, as Redis's PROTO_IOBUF_LEN.
pub(super) const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Anything the connection loop can serve: a TCP stream, a TLS stream over one, a unix socket.
pub trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Connection for S {}

/// Writes `bytes` and flushes: a no-op for plain sockets, the records still held for TLS.
pub(super) async fn write_flush<S: Connection>(
    stream: &mut S,
    bytes: &[u8],
) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}
