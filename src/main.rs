//! `ferrocache [/path/redis.conf] [--name value ...]`: starts the server like redis-server.

use clap::Parser;
use ferrocache::clock::Clock;
use ferrocache::config::{Config, REDIS_VERSION};
use ferrocache::state::ServerState;
use std::sync::Arc;

#[global_allocator]
static ALLOC: ferrocache::alloc_counter::CountingJemalloc =
    ferrocache::alloc_counter::CountingJemalloc;

/// A Redis-compatible in-memory cache server.
///
/// Takes the same arguments as redis-server: an optional config file (or `-` for stdin) and
/// `--option value` pairs that override it, e.g. `ferrocache --port 7000 --maxmemory 2gb`.
const SUBCOMMANDS: &str = "\
Other entry points of the same binary:
  ferrocache ping [-h host] [-p port] [-a password] [--user name]
                  Health check: exit 0 on PONG, 1 otherwise
  ferrocache check-aof [--fix] <manifest or file>
                  Checks an AOF (what redis-check-aof does)
  ferrocache check-rdb <file>
                  Checks a dump.rdb (what redis-check-rdb does)";

#[derive(Parser, Debug)]
#[command(
    name = "ferrocache",
    version = concat!(env!("CARGO_PKG_VERSION"), " (redis compatible ", "7.2", ")"),
    disable_help_subcommand = true,
    after_help = SUBCOMMANDS
)]
struct Cli {
    /// Config file path (redis.conf syntax) followed by `--option value ...` overrides.
    #[arg(
        allow_hyphen_values = true,
        trailing_var_arg = true,
        value_name = "ARGS"
    )]
    args: Vec<String>,
}

fn main() {
    ferrocache::alloc_counter::mark_installed();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("check-aof") {
        let code = ferrocache::aof::check::run(&args[2..], &mut std::io::stdout());
        std::process::exit(code);
    }
    if args.get(1).map(String::as_str) == Some("ping") {
        std::process::exit(ferrocache::healthcheck::run(&args[2..]));
    }
    let cli = Cli::parse();
    if let [command, path] = cli.args.as_slice() {
        if command == "check-rdb" {
            std::process::exit(ferrocache::rdb::check::run(path));
        }
    }
    let config = match Config::from_args(&cli.args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Err((i, reason)) = ferrocache::engine::registry::Registry::check_renames(
        ferrocache::commands::TABLES,
        &config.renamed_commands,
    ) {
        let (line_no, line) = &config.renamed_at[i];
        eprintln!("{}", ferrocache::config::fatal(*line_no, line, reason));
        std::process::exit(1);
    }
    init_logging(&config);
    tracing::info!(
        "ferrocache {} (Redis {REDIS_VERSION} compatible) starting, pid={}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let state = Arc::new(ServerState::new(
        config,
        Clock::System,
        ferrocache::commands::TABLES,
    ));
    let code = match runtime.block_on(ferrocache::server::run(state)) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{e}");
            1
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}

fn init_logging(config: &Config) {
    let level = match config.get("loglevel").as_str() {
        "debug" => tracing::Level::DEBUG,
        "verbose" => tracing::Level::INFO,
        "notice" => tracing::Level::INFO,
        _ => tracing::Level::WARN,
    };
    let logfile = config.get("logfile");
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false);
    if logfile.is_empty() {
        builder.with_writer(std::io::stdout).init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
        {
            Ok(file) => builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init(),
            Err(e) => {
                eprintln!("Can't open the log file: {e}");
                std::process::exit(1);
            }
        }
    }
}
