use std::process::ExitCode;

/// mimalloc for the whole binary: indexing allocates many small strings on several threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match ponder::cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ponder: {err:#}");
            ExitCode::from(2)
        }
    }
}
