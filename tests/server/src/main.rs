//! `orch-testserver [--port N] [--no-record]`: the test server's routes on
//! 127.0.0.1, for benchmarks. Prints `listening on http://127.0.0.1:PORT`.

use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "usage: orch-testserver [--port N] [--no-record]

Serves the orch test server's routes (/ok, /health, /echo, /status/CODE, /flaky/KEY,
/retry-after/KEY, /slow?ms=M, /reset, /text, /redirect/N, /redirect-loop,
/redirect-to?url=U) on 127.0.0.1 until killed.
  --port N      port to bind (default 0: any free port)
  --no-record   keep no copy of the requests (for benchmarks: memory stays flat)";

fn main() -> ExitCode {
    let mut port: u16 = 0;
    let mut record = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" | "-p" => match args.next().and_then(|p| p.parse().ok()) {
                Some(p) => port = p,
                None => return usage("--port needs a number from 0 to 65535"),
            },
            "--no-record" => record = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unexpected argument {other:?}")),
        }
    }

    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => l,
            Err(e) => return fail(&format!("cannot bind 127.0.0.1:{port}: {e}")),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => return fail(&format!("cannot read the bound address: {e}")),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
        drop(out);
        orch_testserver::serve(listener, record).await;
        ExitCode::SUCCESS
    })
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("orch-testserver: {msg}\n{USAGE}");
    ExitCode::from(2)
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("orch-testserver: {msg}");
    ExitCode::FAILURE
}
