//! `logist-fake-model`: runs the fake model server by hand, prints its URL,
//! and logs each request (method, target, body size) to stderr until
//! interrupted.
//!
//! ```text
//! logist-fake-model [--port N] [--write-file PATH CONTENT] [--fail STATUS MESSAGE] [--dump DIR]
//! ```
//!
//! `--dump DIR` also writes each request body to `DIR/<n>.body`.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use logist_fake_model::{FakeModel, Script};

const USAGE: &str = "usage: logist-fake-model [--port N] [--write-file PATH CONTENT] [--fail STATUS MESSAGE] [--dump DIR]";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut port = 0_u16;
    let mut script = Script::Answer;
    let mut dump: Option<std::path::PathBuf> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().context("--port needs a value")?;
                port = value
                    .parse()
                    .with_context(|| format!("bad port {value:?}"))?;
            }
            "--write-file" => {
                let (Some(path), Some(content)) = (args.next(), args.next()) else {
                    bail!("--write-file needs PATH and CONTENT\n{USAGE}");
                };
                script = Script::WriteFile {
                    path: path.into(),
                    content,
                };
            }
            "--fail" => {
                let (Some(status), Some(message)) = (args.next(), args.next()) else {
                    bail!("--fail needs STATUS and MESSAGE\n{USAGE}");
                };
                let status = status
                    .parse()
                    .with_context(|| format!("bad status {status:?}"))?;
                script = Script::Fail { status, message };
            }
            "--dump" => dump = Some(args.next().context("--dump needs a directory")?.into()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let server = FakeModel::start_on(&format!("127.0.0.1:{port}"), script)?;
    println!("{}", server.url());
    let mut seen = 0;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let requests = server.requests();
        for (index, request) in requests.iter().enumerate().skip(seen) {
            if let Some(dir) = &dump {
                let path = dir.join(format!("{index}.body"));
                std::fs::write(&path, &request.body)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            eprintln!(
                "{} {} ({} bytes)",
                request.method,
                request.target,
                request.body.len()
            );
        }
        seen = requests.len();
    }
}
