//! A tiny HTTP server on 127.0.0.1:0 (a thread, std only) that answers each request with the
//! next prepared [`Reply`] — a recorded SSE transcript, an error status, a stream cut short or
//! one that hangs — and records what it was asked, so tests can check the client's requests,
//! retries and hang-ups without a real inference server.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with an SSE body, written event by event, then the connection is closed.
    Sse(Vec<u8>),
    /// 200 with a JSON body.
    Json(String),
    /// An error status with a body and maybe a `Retry-After` (seconds).
    Status(u16, String, Option<u64>),
    /// 200 and the first `n` events of an SSE body, then the connection is dropped.
    Cut(Vec<u8>, usize),
    /// 200 and the first `n` events, then nothing until the client hangs up (reported on
    /// [`ReplayServer::hangups`]).
    Hang(Vec<u8>, usize),
}

/// A recorded request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
}

/// The running server.
pub struct ReplayServer {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    pub hangups: Receiver<()>,
}

/// A transcript of `tests/fixtures/sse/`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sse")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl ReplayServer {
    /// Serves `replies` in order, one per request; further requests get a 500.
    pub fn start(replies: Vec<Reply>) -> ReplayServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (hung, hangups) = channel();
        let queue = Arc::new(Mutex::new(VecDeque::from(replies)));
        let recorded = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (queue, recorded, hung) = (queue.clone(), recorded.clone(), hung.clone());
                std::thread::spawn(move || serve(stream, &queue, &recorded, &hung));
            }
        });
        ReplayServer { url, seen, hangups }
    }

    /// The requests received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    queue: &Mutex<VecDeque<Reply>>,
    recorded: &Mutex<Vec<Seen>>,
    hung: &Sender<()>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let (mut length, mut authorization) = (0, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    // Recorded and the reply taken under one lock, so the order of requests is the order of
    // replies.
    let reply = {
        let mut recorded = recorded.lock().unwrap();
        recorded.push(Seen {
            path,
            authorization,
            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        });
        queue.lock().unwrap().pop_front()
    };
    let mut out = stream;
    let sse_head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    match reply.unwrap_or(Reply::Status(500, "no reply prepared".into(), None)) {
        Reply::Sse(bytes) => {
            let _ = out.write_all(sse_head.as_bytes());
            for event in events(&bytes) {
                let _ = out.write_all(event);
                let _ = out.flush();
            }
        }
        Reply::Json(text) => {
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{text}",
                text.len()
            );
        }
        Reply::Status(code, text, retry_after) => {
            let retry = retry_after.map_or(String::new(), |s| format!("retry-after: {s}\r\n"));
            let _ = write!(
                out,
                "HTTP/1.1 {code} Oops\r\ncontent-type: application/json\r\n{retry}\
                 content-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
        Reply::Cut(bytes, n) => {
            let _ = out.write_all(sse_head.as_bytes());
            for event in events(&bytes).into_iter().take(n) {
                let _ = out.write_all(event);
            }
            let _ = out.flush();
            let _ = out.shutdown(Shutdown::Both);
        }
        Reply::Hang(bytes, n) => {
            let _ = out.write_all(sse_head.as_bytes());
            for event in events(&bytes).into_iter().take(n) {
                let _ = out.write_all(event);
            }
            let _ = out.flush();
            // Blocks until the client hangs up.
            let mut buf = [0u8; 64];
            while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
            let _ = hung.send(());
        }
    }
}

/// The events of an SSE body, each with its blank line.
fn events(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end = if bytes[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if bytes[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        };
        match end {
            Some(end) => {
                out.push(&bytes[start..end]);
                start = end;
                i = end;
            }
            None => i += 1,
        }
    }
    if start < bytes.len() {
        out.push(&bytes[start..]);
    }
    out
}
