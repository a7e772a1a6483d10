//! `collector`: stores co-browsing audit trails and serves them to agents.
//! All wiring lives in [`collector::startup`]; this only reads settings and
//! runs (or, with `--check`, checks the store and exits: [`collector::check`]).

use clap::Parser;
use collector::config::{Cli, Settings};
use collector::{startup::Application, telemetry};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let check = cli.check;
    if check {
        // Exit 1 says "broken": anything that keeps the check from running
        // (settings, output) is 2, as a store that does not open is.
        let code = Settings::load(cli)
            .and_then(|settings| {
                telemetry::init(&settings.log_format);
                collector::check::run(&settings, &mut std::io::stdout().lock())
            })
            .unwrap_or_else(|e| {
                eprintln!("collector --check: {e:#}");
                collector::check::NOT_CHECKED
            });
        std::process::exit(code);
    }
    let settings = Settings::load(cli)?;
    telemetry::init(&settings.log_format);
    let app = Application::build(settings).await?;
    app.run_until_stopped().await
}
