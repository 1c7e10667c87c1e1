//! Real receivers for the gateway's messages: an SMTP relay (Python's `aiosmtpd`, writing a
//! Maildir) started and stopped by the test, and an HTTPS webhook receiver that records every
//! POST.
#![allow(clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// An SMTP relay on 127.0.0.1 that keeps every message it accepts in a Maildir.
#[derive(Debug)]
pub struct Relay {
    pub port: u16,
    pub maildir: PathBuf,
    /// Extra arguments (TLS: `--tlscert`/`--tlskey` for STARTTLS, `--smtpscert`/`--smtpskey`).
    pub args: Vec<String>,
    child: Option<Child>,
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Relay {
    /// A relay that will listen on `port` once started.
    pub fn new(dir: &Path, port: u16) -> Relay {
        let maildir = dir.join("maildir");
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("the maildir");
        }
        Relay {
            port,
            maildir,
            args: Vec::new(),
            child: None,
        }
    }

    /// Starts `python3 -m aiosmtpd` and waits until it accepts connections.
    pub fn start(&mut self) {
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.maildir)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd; .ci/run installs it)");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "aiosmtpd exited at once ({status}); is it installed (pip install aiosmtpd)?"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("aiosmtpd did not listen on {}", self.port);
    }

    /// Offers STARTTLS (and requires it) with this certificate.
    pub fn starttls(mut self, cert: &Path, key: &Path) -> Relay {
        self.args = vec![
            "--tlscert".into(),
            cert.display().to_string(),
            "--tlskey".into(),
            key.display().to_string(),
        ];
        self
    }

    /// Speaks TLS from the first byte (SMTPS) with this certificate.
    pub fn smtps(mut self, cert: &Path, key: &Path) -> Relay {
        self.args = vec![
            "--smtpscert".into(),
            cert.display().to_string(),
            "--smtpskey".into(),
            key.display().to_string(),
        ];
        self
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message received so far, decoded (headers and the plain-text part), oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = ["new", "cur"]
            .iter()
            .flat_map(|d| {
                std::fs::read_dir(self.maildir.join(d))
                    .into_iter()
                    .flatten()
            })
            .flatten()
            .map(|e| {
                let t = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (t, e.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
            .map(|raw| Mail::parse(&raw))
            .collect()
    }

    /// Waits (up to `secs`) for a message that `pick` accepts.
    pub async fn wait_for(&self, secs: u64, pick: impl Fn(&Mail) -> bool) -> Mail {
        for _ in 0..secs * 10 {
            if let Some(m) = self.messages().into_iter().find(|m| pick(m)) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no such message within {secs} s; received: {:#?}",
            self.messages()
                .iter()
                .map(|m| (&m.to, &m.subject))
                .collect::<Vec<_>>()
        );
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One email as received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// The plain-text part, quoted-printable decoded.
    pub text: String,
    pub raw: String,
}

impl Mail {
    fn parse(raw: &str) -> Mail {
        let header = |name: &str| {
            raw.lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        let text = raw
            .split("Content-Type: text/plain")
            .nth(1)
            .and_then(|rest| {
                rest.split_once("\n\n")
                    .or_else(|| rest.split_once("\r\n\r\n"))
            })
            .map(|(_, body)| body.split("\n--").next().unwrap_or(body))
            .map(quoted_printable)
            .unwrap_or_default();
        Mail {
            to: header("To"),
            subject: header("Subject"),
            text,
            raw: raw.to_string(),
        }
    }

    /// The gateway link in the message (`/.wardgate/...?token=...`), as a path and query.
    pub fn link(&self) -> String {
        let at = self
            .text
            .find("/.wardgate/")
            .unwrap_or_else(|| panic!("no link in {}", self.text));
        let rest = &self.text[at..];
        rest.split_whitespace().next().unwrap_or(rest).to_string()
    }

    /// The six-digit code in the message.
    pub fn code(&self) -> String {
        self.text
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap_or_else(|| panic!("no code in {}", self.text))
            .to_string()
    }
}

/// RFC 2045 quoted-printable, decoded.
fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One POST a webhook receiver got.
#[derive(Debug, Clone)]
pub struct Post {
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// An HTTPS receiver (the test CA's certificate for 127.0.0.1) recording every request.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub posts: Arc<Mutex<Vec<Post>>>,
}

impl Receiver {
    pub async fn start(cert: &Path, key: &Path) -> Receiver {
        let tls = wardgate::tls::server_config(cert, key, false).expect("the receiver's TLS");
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("its address");
        let posts: Arc<Mutex<Vec<Post>>> = Arc::default();
        let log = posts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, log) = (acceptor.clone(), log.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let log = log.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            log.lock().expect("the log").push(Post {
                                headers: parts.headers,
                                body,
                            });
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::from_static(b"ok"),
                            )))
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        Receiver { addr, posts }
    }

    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().expect("the log").clone()
    }
}
