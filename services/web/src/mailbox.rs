//! The local mailbox: without SMTP, the worker writes each message as an `.eml` file into a
//! directory; the platform operator reads it at `/mailbox` on the base domain, and
//! `tenantdesk mailbox list|show` prints it, so a person trying Tenantdesk can follow a link.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use mailparse::{MailHeaderMap, ParsedMail};

/// One message's summary.
#[derive(Clone, Debug)]
pub struct Summary {
    pub id: String,
    pub date: String,
    pub to: String,
    pub subject: String,
    pub tenant: String,
}

/// One message in full.
#[derive(Clone, Debug)]
pub struct Message {
    pub headers: Vec<(String, String)>,
    pub text: Option<String>,
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("cannot read the mailbox {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("no message has an id starting with {0}")]
    NotFound(String),
    #[error("{0} messages have ids starting with {1}; give more of the id")]
    Ambiguous(usize, String),
}

fn files(dir: &Path) -> Result<Vec<(String, PathBuf, SystemTime)>, MailboxError> {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(MailboxError::Io(dir.to_owned(), error)),
    };
    let mut found: Vec<_> = listing
        .flatten()
        .map(|item| item.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .filter_map(|path| {
            let id = path.file_stem()?.to_string_lossy().into_owned();
            let modified = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            Some((id, path, modified))
        })
        .collect();
    found.sort_by_key(|(_, _, modified)| std::cmp::Reverse(*modified));
    Ok(found)
}

/// Every message, newest first, at most `limit`.
pub fn list(dir: &Path, limit: usize) -> Result<Vec<Summary>, MailboxError> {
    let mut summaries = Vec::new();
    for (id, path, _) in files(dir)?.into_iter().take(limit) {
        let Ok(raw) = std::fs::read(&path) else {
            continue;
        };
        let Ok(mail) = mailparse::parse_mail(&raw) else {
            continue;
        };
        let header = |name| mail.headers.get_first_value(name).unwrap_or_default();
        summaries.push(Summary {
            id,
            date: header("Date"),
            to: header("To"),
            subject: header("Subject"),
            tenant: header("X-Tenantdesk-Tenant"),
        });
    }
    Ok(summaries)
}

/// The message whose id is `id` or starts with it.
pub fn read(dir: &Path, id: &str) -> Result<Message, MailboxError> {
    let matches: Vec<_> = files(dir)?
        .into_iter()
        .filter(|(name, ..)| !id.is_empty() && name.starts_with(id))
        .collect();
    let path = match matches.as_slice() {
        [(_, path, _)] => path,
        [] => return Err(MailboxError::NotFound(id.to_owned())),
        _ => return Err(MailboxError::Ambiguous(matches.len(), id.to_owned())),
    };
    let raw = std::fs::read(path).map_err(|e| MailboxError::Io(path.clone(), e))?;
    let mail = mailparse::parse_mail(&raw).map_err(|_| MailboxError::NotFound(id.to_owned()))?;
    Ok(Message {
        headers: mail
            .headers
            .iter()
            .map(|h| (h.get_key(), h.get_value()))
            .collect(),
        text: part(&mail, "text/plain"),
        html: part(&mail, "text/html"),
    })
}

fn part(mail: &ParsedMail<'_>, mime: &str) -> Option<String> {
    if mail.subparts.is_empty() {
        return (mail.ctype.mimetype == mime)
            .then(|| mail.get_body().ok())
            .flatten();
    }
    mail.subparts.iter().find_map(|sub| part(sub, mime))
}

/// `tenantdesk mailbox list`.
pub fn print_list(dir: &Path) -> Result<(), MailboxError> {
    let summaries = list(dir, usize::MAX)?;
    if summaries.is_empty() {
        println!("the mailbox {} is empty", dir.display());
        return Ok(());
    }
    println!("{:<36}  {:<31}  {:<32}  SUBJECT", "ID", "DATE", "TO");
    for s in summaries {
        println!("{:<36}  {:<31}  {:<32}  {}", s.id, s.date, s.to, s.subject);
    }
    Ok(())
}

/// `tenantdesk mailbox show ID`: the main headers and the plain text.
pub fn print_message(dir: &Path, id: &str) -> Result<(), MailboxError> {
    let message = read(dir, id)?;
    for name in [
        "Date",
        "From",
        "Reply-To",
        "To",
        "Subject",
        "Message-ID",
        "X-Tenantdesk-Tenant",
    ] {
        if let Some((_, value)) = message
            .headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
        {
            println!("{name}: {value}");
        }
    }
    println!();
    println!(
        "{}",
        message
            .text
            .unwrap_or_else(|| "(no plain-text part)".to_owned())
    );
    Ok(())
}
