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
    let settings = Settings::load(cli)?;
    telemetry::init(&settings.log_format);
    if check {
        let code = collector::check::run(&settings, &mut std::io::stdout().lock())?;
        std::process::exit(code);
    }
    let app = Application::build(settings).await?;
    app.run_until_stopped().await
}
