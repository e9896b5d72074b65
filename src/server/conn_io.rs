//! A connection's bytes: request frames in, response chunks out.
//!
//! Memory follows the traffic, so that thousands of idle connections cost little: a plain TCP
//! connection holds no read buffer while it waits for its next request (it waits for the
//! socket to become readable first), a frame's buffer grows with the bytes that actually
//! arrive, and the buffer is dropped once its frames are handed on. Responses are written with
//! one vectored write per batch of pipelined responses; large ranges of segment files go
//! from the page cache to the socket with `sendfile(2)` on plain TCP (the bytes never enter
//! user space) and through a copy buffer on TLS.

use std::io::{self, IoSlice};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::Interest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::api::Chunk;
use crate::log::FileSlice;

/// Bytes asked of the socket per read while a frame's length is not yet known.
const READ_CHUNK: usize = 16 * 1024;
/// A frame's buffer starts at most this large and doubles as its bytes arrive (up to the
/// frame's length): a client announcing a large frame and sending nothing holds no memory.
const FRAME_PREALLOC: usize = 64 * 1024;
/// File ranges shorter than this are copied into the response's vectored write; longer ones
/// are sent with `sendfile` (one system call each, so small ones are cheaper copied).
pub const SENDFILE_MIN: u64 = 32 * 1024;
/// Size of the buffer file data is copied through where `sendfile` is not available (TLS).
const COPY_CHUNK: usize = 64 * 1024;
/// At most this many buffers per vectored write (Linux's IOV_MAX is 1024).
const MAX_IOVECS: usize = 64;
/// A non-vectored writer (TLS) gets pending chunks coalesced into writes of about this size.
const COALESCE: usize = 64 * 1024;

/// The reading half of a connection.
pub trait Source: AsyncRead + Unpin {
    /// Wait until the connection has bytes to read (or is closed), before any buffer is
    /// allocated for them. Where that cannot be known cheaply (TLS), returns at once.
    async fn readable(&self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for OwnedReadHalf {
    async fn readable(&self) -> io::Result<()> {
        OwnedReadHalf::readable(self).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Source for ReadHalf<S> {}

/// The writing half of a connection.
pub trait Sink: AsyncWrite + Unpin {
    /// Write `slice` (a range of a segment file) to the connection.
    async fn send_file(&mut self, slice: &FileSlice, scratch: &mut Vec<u8>) -> io::Result<()> {
        copy_file(self, slice, scratch).await
    }
}

impl Sink for OwnedWriteHalf {
    async fn send_file(&mut self, slice: &FileSlice, _scratch: &mut Vec<u8>) -> io::Result<()> {
        let stream = self.as_ref();
        let mut position = slice.position;
        let end = slice.position + slice.len;
        while position < end {
            let want = (end - position).min(1 << 30) as usize;
            stream.writable().await?;
            match stream.try_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(stream, &*slice.file, Some(&mut position), want)
                    .map_err(io::Error::from)
            }) {
                // The file is shorter than the range (truncated meanwhile): the frame cannot
                // be completed, so the caller closes the connection.
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink for WriteHalf<S> {}

/// Copy a file range to `wr` through `scratch`.
async fn copy_file<W: AsyncWrite + Unpin + ?Sized>(
    wr: &mut W,
    slice: &FileSlice,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    if scratch.len() < COPY_CHUNK {
        scratch.resize(COPY_CHUNK, 0);
    }
    let mut done = 0u64;
    while done < slice.len {
        let n = (slice.len - done).min(COPY_CHUNK as u64) as usize;
        // A positioned read of data the log has just handed out: page-cache hot in the
        // common case. An error here leaves a half-written frame, so the caller closes the
        // connection.
        slice.read_into(&mut scratch[..n], done)?;
        wr.write_all(&scratch[..n]).await?;
        done += n as u64;
    }
    Ok(())
}

/// Why no frame was read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection between frames.
    Closed,
    /// Closed or failed part way through a frame.
    MidFrame(Option<io::Error>),
    /// The length prefix is outside `0..=max`.
    Size { len: i32, max: i32 },
}

/// Splits a connection's bytes into request frames (without their length prefix).
pub struct FrameReader<R> {
    rd: R,
    /// Bytes read and not yet handed out as frames. Empty, with no allocation, between
    /// requests unless the client pipelined.
    buf: BytesMut,
}

impl<R: Source> FrameReader<R> {
    pub fn new(rd: R) -> Self {
        FrameReader {
            rd,
            buf: BytesMut::new(),
        }
    }

    /// Whether a whole frame has already been read (a pipelined request): its response can
    /// wait to be written together with the next one's.
    pub fn has_frame(&self) -> bool {
        self.buf.len() >= 4
            && i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as i64 + 4
                <= self.buf.len() as i64
    }

    /// Wait for the next frame's length prefix (cancel-safe: bytes read stay buffered).
    /// Ok(len) once at least 4 bytes are buffered.
    pub async fn next_len(&mut self) -> Result<i32, ReadError> {
        while self.buf.len() < 4 {
            if self.buf.capacity() == 0 {
                self.rd.readable().await.map_err(|_| ReadError::Closed)?;
            }
            self.buf.reserve(READ_CHUNK);
            match self.rd.read_buf(&mut self.buf).await {
                Ok(0) if self.buf.is_empty() => return Err(ReadError::Closed),
                Ok(0) => return Err(ReadError::MidFrame(None)),
                Ok(_) => {}
                Err(_) if self.buf.is_empty() => return Err(ReadError::Closed),
                Err(e) => return Err(ReadError::MidFrame(Some(e))),
            }
        }
        Ok(i32::from_be_bytes([
            self.buf[0],
            self.buf[1],
            self.buf[2],
            self.buf[3],
        ]))
    }

    /// The frame whose length [`next_len`](Self::next_len) returned, once `max` is checked.
    pub async fn frame(&mut self, max: i32) -> Result<Bytes, ReadError> {
        let len = self.next_len().await?;
        if len < 0 || len > max {
            return Err(ReadError::Size { len, max });
        }
        let total = len as usize + 4;
        while self.buf.len() < total {
            let missing = total - self.buf.len();
            let grow = missing.min(self.buf.capacity().max(FRAME_PREALLOC));
            self.buf.reserve(grow);
            match self.rd.read_buf(&mut self.buf).await {
                Ok(0) => return Err(ReadError::MidFrame(None)),
                Ok(_) => {}
                Err(e) => return Err(ReadError::MidFrame(Some(e))),
            }
        }
        self.buf.advance(4);
        let frame = self.buf.split_to(len as usize).freeze();
        if self.buf.is_empty() {
            // Release the buffer (the frame keeps its own share): an idle connection holds none.
            self.buf = BytesMut::new();
        }
        Ok(frame)
    }
}

/// Writes responses: encoded bytes are gathered and written with vectored writes, file ranges
/// go by [`Sink::send_file`].
pub struct ResponseWriter<W> {
    wr: W,
    pending: Vec<Bytes>,
    /// Copy buffer for file data on connections without `sendfile`; allocated on first use.
    scratch: Vec<u8>,
}

impl<W: Sink> ResponseWriter<W> {
    pub fn new(wr: W) -> Self {
        ResponseWriter {
            wr,
            pending: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Queue a response's chunks; large file ranges are sent at once (after what is queued).
    pub async fn write(&mut self, chunks: Vec<Chunk>) -> io::Result<()> {
        for chunk in chunks {
            match chunk {
                Chunk::Bytes(b) if b.is_empty() => {}
                Chunk::Bytes(b) => self.pending.push(b),
                Chunk::File(slice) if slice.len < SENDFILE_MIN => {
                    let mut data = vec![0u8; slice.len as usize];
                    slice.read_into(&mut data, 0)?;
                    self.pending.push(Bytes::from(data));
                }
                Chunk::File(slice) => {
                    self.flush().await?;
                    self.wr.send_file(&slice, &mut self.scratch).await?;
                }
            }
        }
        Ok(())
    }

    /// Write everything queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.wr.is_write_vectored() {
            while !self.pending.is_empty() {
                let slices: Vec<IoSlice<'_>> = self
                    .pending
                    .iter()
                    .take(MAX_IOVECS)
                    .map(|b| IoSlice::new(b))
                    .collect();
                let mut n = self.wr.write_vectored(&slices).await?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                let mut done = 0;
                for b in self.pending.iter_mut() {
                    if n < b.len() {
                        b.advance(n);
                        break;
                    }
                    n -= b.len();
                    done += 1;
                }
                self.pending.drain(..done);
            }
        } else {
            let mut chunks = std::mem::take(&mut self.pending).into_iter().peekable();
            while let Some(first) = chunks.next() {
                if first.len() >= COALESCE || chunks.peek().is_none() {
                    self.wr.write_all(&first).await?;
                    continue;
                }
                let mut joined = Vec::with_capacity(COALESCE);
                joined.extend_from_slice(&first);
                while let Some(next) = chunks.next_if(|c| joined.len() + c.len() <= COALESCE) {
                    joined.extend_from_slice(&next);
                }
                self.wr.write_all(&joined).await?;
            }
        }
        self.pending = Vec::new();
        self.wr.flush().await
    }
}
