//! `collector`: stores co-browsing audit trails and serves them to agents.
//! All wiring lives in [`collector::startup`]; this only reads settings and runs.

use clap::Parser;
use collector::config::{Cli, Settings};
use collector::{startup::Application, telemetry};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(Cli::parse())?;
    telemetry::init(&settings.log_format);
    let app = Application::build(settings).await?;
    app.run_until_stopped().await
}
