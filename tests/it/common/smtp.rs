//! A real SMTP server for tests: Debian's `python3-aiosmtpd` on a free port, printing each
//! message it receives to stdout (its debugging handler), which is collected here.

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// aiosmtpd's debugging handler (the messages it prints are collected as `-m aiosmtpd`'s
/// are), refusing recipients that start with `bounce`.
const REFUSING_BOUNCES: &str = r#"
import sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Debugging

class RefusingBounces(Debugging):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

Controller(RefusingBounces(sys.stdout), hostname="127.0.0.1", port=int(sys.argv[1])).start()
threading.Event().wait()
"#;

/// A running aiosmtpd and the messages it has received, each as its raw text.
pub struct SmtpServer {
    pub port: u16,
    child: std::process::Child,
    pub messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpServer {
    /// Starts a server on `port` and waits until it accepts connections.
    pub fn start_on(port: u16) -> SmtpServer {
        Self::spawn(port, &["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
    }

    /// Starts a server on `port` that refuses every recipient whose address starts with
    /// `bounce` (`550`, as a real server does for a mailbox it does not have) and takes the rest.
    pub fn refusing_bounces_on(port: u16) -> SmtpServer {
        Self::spawn(port, &["-c", REFUSING_BOUNCES, &port.to_string()])
    }

    fn spawn(port: u16, args: &[&str]) -> SmtpServer {
        let mut child = std::process::Command::new("/usr/bin/python3")
            .arg("-u")
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd (Debian: apt-get install python3-aiosmtpd)");
        let stdout = child.stdout.take().expect("stdout");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        std::thread::spawn(move || {
            let mut current: Option<String> = None;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("MESSAGE FOLLOWS") {
                    current = Some(String::new());
                } else if line.contains("END MESSAGE") {
                    if let Some(message) = current.take() {
                        sink.lock().expect("messages").push(message);
                    }
                } else if let Some(message) = current.as_mut() {
                    message.push_str(&line);
                    message.push('\n');
                }
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "aiosmtpd did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { port, child, messages }
    }

    pub fn start() -> SmtpServer {
        Self::start_on(free_port())
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far.
    pub fn received(&self) -> Vec<String> {
        self.messages.lock().expect("messages").clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The base64 bodies of a message's `image/png` parts, decoded.
pub fn png_parts(message: &str) -> Vec<Vec<u8>> {
    let mut images = Vec::new();
    for part in message.split("\n--").skip(1) {
        let Some((headers, body)) = part.split_once("\n\n") else { continue };
        let headers = headers.to_ascii_lowercase();
        if headers.contains("content-type: image/png") && headers.contains("base64") {
            let data: String = body.split("\n--").next().unwrap_or_default().split_whitespace().collect();
            images.push(base64_decode(&data));
        }
    }
    images
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut bits, mut count) = (0u32, 0);
    for b in text.bytes().filter(|b| *b != b'=') {
        let Some(value) = ALPHABET.iter().position(|a| *a == b) else { continue };
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// Decodes the QR code in a PNG with `zbarimg` (Debian: zbar-tools).
pub fn decode_qr(png: &[u8]) -> String {
    let path =
        std::env::temp_dir().join(format!("tk-qr-{}.png", techkraft_tickets::settings::random_token(10)));
    std::fs::write(&path, png).expect("write png");
    let output = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&path)
        .output()
        .expect("run zbarimg (Debian: apt-get install zbar-tools)");
    let _ = std::fs::remove_file(&path);
    assert!(output.status.success(), "zbarimg found no code: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
