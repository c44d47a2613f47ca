//! `tenantdesk import users|orgs --tenant SLUG FILE`: a CSV import into one tenant from the
//! command line, through the same workflow as the API ([`web::imports`]), with a progress bar
//! when stderr is a terminal, a summary, and a non-zero exit naming the problem when the file
//! or any row is bad.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use domain::TenantSlug;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use store::user_directory::Actor;
use web::imports::{Entity, ImportError, ImportLimits, ImportOptions, Mode, Report};

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// What the file holds: `users` or `orgs` (organizations).
    #[arg(value_parser = parse_entity)]
    pub entity: Entity,

    /// The CSV file: UTF-8 (with or without a byte order mark), a header row naming the columns.
    pub file: PathBuf,

    /// The slug of the tenant to import into.
    #[arg(long, value_parser = parse_slug)]
    pub tenant: TenantSlug,

    /// Check every row and report, writing nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Write the good rows and report the bad ones (by default one bad row stops the whole file).
    #[arg(long, conflicts_with = "dry_run")]
    pub skip_bad_rows: bool,
}

fn parse_entity(raw: &str) -> Result<Entity, String> {
    Entity::parse(raw).ok_or_else(|| "must be users or orgs".to_owned())
}

fn parse_slug(raw: &str) -> Result<TenantSlug, String> {
    TenantSlug::parse(raw).map_err(|error| error.to_string())
}

/// Runs the import and prints its summary; an error when the file or any row is bad.
pub async fn run(
    args: ImportArgs,
    owner: &store::Owner,
    limits: ImportLimits,
) -> anyhow::Result<()> {
    let mode = if args.dry_run {
        Mode::DryRun
    } else if args.skip_bad_rows {
        Mode::SkipBadRows
    } else {
        Mode::AllOrNothing
    };
    let tenant = owner
        .tenant_by_slug(&args.tenant)
        .await?
        .with_context(|| format!("no tenant has the slug {}", args.tenant))?;
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    // Runs as the runtime role: row-level security holds for the import as for requests.
    let tx = owner.begin_tenant(tenant.id).await?;
    let bar = progress_bar();
    let mut progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let options = ImportOptions {
        entity: args.entity,
        mode,
        limits,
        actor: Actor::System,
    };
    let imported = web::imports::import(tx, file, options, &mut progress).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = match imported {
        Ok(report) => report,
        Err(ImportError::File(problem)) => {
            anyhow::bail!("{}: {problem}; nothing was written", args.file.display())
        }
        Err(other) => return Err(other).context("the import failed; nothing was written"),
    };
    for error in &report.errors {
        match &error.field {
            Some(field) => eprintln!("line {}: {field}: {}", error.line, error.message),
            None => eprintln!("line {}: {}", error.line, error.message),
        }
    }
    println!("{}", summary(&report, &tenant.slug));
    if report.skipped > 0 {
        let rows = if report.skipped == 1 {
            "row is"
        } else {
            "rows are"
        };
        let outcome = match mode {
            Mode::DryRun => "a dry run wrote nothing",
            Mode::AllOrNothing => "nothing was written; fix them or use --skip-bad-rows",
            Mode::SkipBadRows => "they were skipped and the other rows imported",
        };
        anyhow::bail!("{} {rows} bad (listed above): {outcome}", report.skipped);
    }
    Ok(())
}

/// One line saying what happened.
fn summary(report: &Report, slug: &TenantSlug) -> String {
    let (created, updated) = if report.written {
        ("created", "updated")
    } else {
        ("to create", "to update")
    };
    let written = if report.written {
        "saved"
    } else {
        "nothing written"
    };
    format!(
        "{} import into {slug} ({}): {} rows, {} {created}, {} {updated}, {} bad; {written}",
        report.entity, report.mode, report.rows, report.created, report.updated, report.skipped
    )
}

/// A bar on stderr when it is a terminal; scripts and logs get only the summary.
fn progress_bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({per_sec}, {eta} left)")
    {
        bar.set_style(style);
    }
    Some(bar)
}
