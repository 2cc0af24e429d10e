//! `ponder serve`: load a GGUF with ponder's llama.cpp engine and answer OpenAI-compatible
//! requests for it (see [`crate::serve`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use crate::model::llama::LlamaEngine;
use crate::serve::{ServeOptions, Server};

/// What `ponder serve` takes.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The GGUF model to serve (default: config `[llama] model` or PONDER_MODEL).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// The port to listen on (0: any free port, printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The address to bind; anything but loopback opens the server to the network.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Require this environment variable's value as a bearer API key.
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// The model name to list (default: the file name without `.gguf`).
    #[arg(long)]
    name: Option<String>,
}

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    let api_key = match &args.api_key_env {
        Some(var) => match std::env::var(var) {
            Ok(key) if !key.is_empty() => Some(key),
            _ => bail!("--api-key-env names {var}, which is not set: export {var}=… first"),
        },
        None => None,
    };
    if api_key.is_none() && !args.host.is_loopback() {
        eprintln!(
            "warning: serving on {} without an API key: anyone who can reach it can use it \
             (add --api-key-env VAR)",
            args.host
        );
    }
    let mut llama = crate::config::Config::load()?.llama();
    if let Some(model) = args.model {
        llama.model = Some(model);
    }
    let path = llama.model_path()?;
    let name = args.name.unwrap_or_else(|| {
        path.file_stem()
            .map_or_else(|| "model".to_string(), |s| s.to_string_lossy().into_owned())
    });
    let mut engine = LlamaEngine::load(llama)?;
    let description = engine.model().describe();
    let plan = engine.slots().plan().clone();
    let n_seq = engine.slots().n_seq();
    let server = Server::start(
        engine,
        ServeOptions {
            addr: SocketAddr::new(args.host, args.port),
            api_key,
            model_name: name.clone(),
            limits: crate::serve::Limits::default(),
        },
    )?;
    println!(
        "ponder serve: {} at {} as {name:?}",
        description,
        server.url()
    );
    println!(
        "context {} cells (KV K {} / V {}), {} sequences: concurrent requests join one batch and \
         share the prefix cache",
        plan.cells,
        plan.k.name(),
        plan.v.name(),
        n_seq
    );
    server.wait();
    Ok(ExitCode::SUCCESS)
}
