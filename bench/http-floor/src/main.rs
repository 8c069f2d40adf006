//! The "reqwest floor": COUNT GETs of URL, at most CONCURRENCY at once,
//! through one reqwest client configured as orch's, on a current-thread
//! runtime as orch's run is; each answer read whole and checked for 2xx.
//! No workflow, no scheduling, no history: what orch does for its `http`
//! steps, less everything that is orch's own.
//!
//! Usage: orch-http-floor URL COUNT CONCURRENCY

use std::process::ExitCode;
use std::sync::Arc;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, count, concurrency] = args.as_slice() else {
        eprintln!("usage: orch-http-floor URL COUNT CONCURRENCY");
        return ExitCode::from(2);
    };
    let (Ok(count), Ok(concurrency)) = (count.parse::<usize>(), concurrency.parse::<usize>())
    else {
        eprintln!("orch-http-floor: COUNT and CONCURRENCY are numbers");
        return ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("orch-http-floor: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(url, count, concurrency.max(1))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orch-http-floor: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str, count: usize, concurrency: usize) -> Result<(), String> {
    // As orch's client (`http_client.rs`): keep-alive pool, no Nagle.
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let permit = Arc::clone(&slots)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let resp = client.get(&url).send().await.map_err(|e| e.to_string())?;
            let status = resp.status();
            resp.bytes().await.map_err(|e| e.to_string())?;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("{url} answered {status}"))
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}
