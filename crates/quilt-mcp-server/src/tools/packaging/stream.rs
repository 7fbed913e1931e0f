//! Stream adapters: an S3 body fed to a blocking reader (manifests are parsed and written by
//! the synchronous `quilt-package`, on a blocking thread, in constant memory), and the
//! temporary file an update writes its new manifest to before uploading it.

use std::io::{BufReader, Read};
use std::path::PathBuf;

use aws_sdk_s3::primitives::ByteStream;
use bytes::{Buf as _, Bytes};

use crate::tool_error::ToolError;

/// `std::io::Read` over byte chunks sent from an async task (the S3 body).
pub(super) struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

type Lines = BufReader<ChannelReader>;

/// Feeds `body` to `f` on a blocking thread, as a `BufRead`, and returns `f`'s result.
pub(super) async fn with_body<T, F>(body: ByteStream, f: F) -> Result<T, ToolError>
where
    T: Send + 'static,
    F: FnOnce(Lines) -> Result<T, ToolError> + Send + 'static,
{
    let (tx, reader) = channel_reader();
    let task = tokio::task::spawn_blocking(move || f(reader));
    pump(body, tx).await;
    task.await
        .map_err(|e| ToolError::internal(format!("manifest reader failed: {e}")))?
}

/// Like [`with_body`] for two bodies read side by side (a diff): one blocking thread, each
/// body fed by its own pump.
pub(super) async fn with_bodies<T, F>(a: ByteStream, b: ByteStream, f: F) -> Result<T, ToolError>
where
    T: Send + 'static,
    F: FnOnce(Lines, Lines) -> Result<T, ToolError> + Send + 'static,
{
    let (tx_a, reader_a) = channel_reader();
    let (tx_b, reader_b) = channel_reader();
    let task = tokio::task::spawn_blocking(move || f(reader_a, reader_b));
    tokio::join!(pump(a, tx_a), pump(b, tx_b));
    task.await
        .map_err(|e| ToolError::internal(format!("manifest reader failed: {e}")))?
}

/// A buffered blocking reader and the sender that feeds it.
fn channel_reader() -> (tokio::sync::mpsc::Sender<std::io::Result<Bytes>>, Lines) {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let reader = BufReader::with_capacity(
        256 * 1024,
        ChannelReader {
            rx,
            current: Bytes::new(),
        },
    );
    (tx, reader)
}

async fn pump(mut body: ByteStream, tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>) {
    loop {
        let next = match body.try_next().await {
            Ok(Some(b)) => Ok(b),
            Ok(None) => return,
            Err(e) => Err(std::io::Error::other(e.to_string())),
        };
        let failed = next.is_err();
        // The reader stopped (done or failed): nothing more to send.
        if tx.send(next).await.is_err() || failed {
            return;
        }
    }
}

/// A file removed when dropped (the new manifest of an update, before its upload).
pub(super) struct TempFile(pub(super) PathBuf);

impl TempFile {
    pub(super) fn new() -> Self {
        TempFile(std::env::temp_dir().join(format!("quilt-mcp-manifest-{}", uuid::Uuid::new_v4())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
