//! Ticket attachments: the object store they live in (a local directory or S3-compatible
//! storage through `object_store`), the rules an upload must pass (per-tenant size and type
//! limits, a fixed deny-list of executable types, sanitised names), and writing a message or
//! note together with its files so that both commit or neither does.

use std::path::Path as FsPath;
use std::sync::Arc;

use domain::ticket::MessageBody;
use futures_util::StreamExt;
use object_store::path::Path as Key;
use object_store::{GetResult, ObjectStore, PutPayload};
use sha2::{Digest, Sha256};
use store::TenantTx;
use store::ticket_attachments::{Attachment, NewAttachment};
use store::ticket_thread::Entry;
use store::tickets::{Ticket, TicketScope};
use uuid::Uuid;

use crate::tickets::{self, TicketActor, TicketError};

/// The largest attachment any tenant may allow (the schema's upper bound of
/// `attachment_max_bytes`); uploads are cut off here before the tenant's own limit is known.
pub const HARD_MAX_BYTES: usize = 100 * 1024 * 1024;

/// How many files one message or note may carry.
pub const MAX_FILES: usize = 20;

/// Types refused whatever the tenant allows: programs, installers and scripts a double click
/// would run. HTML is not among them: downloads are always `attachment` with `nosniff` and a
/// sandboxing CSP, so a browser never renders it on our origin.
pub const DENIED_TYPES: &[&str] = &[
    "application/x-msdownload",
    "application/x-msdos-program",
    "application/x-dosexec",
    "application/x-executable",
    "application/x-elf",
    "application/vnd.microsoft.portable-executable",
    "application/x-ms-installer",
    "application/x-msi",
    "application/x-sh",
    "application/x-csh",
    "application/x-shellscript",
    "application/x-bat",
    "application/x-powershell",
    "application/hta",
    "application/x-ms-shortcut",
    "application/java-archive",
    "application/x-java-archive",
    "application/javascript",
    "application/x-javascript",
    "text/javascript",
    "text/vbscript",
    "application/x-vbscript",
];

/// Name endings refused for the same reason, since the declared type is taken on trust.
pub const DENIED_EXTENSIONS: &[&str] = &[
    "exe", "com", "scr", "pif", "msi", "msp", "dll", "bat", "cmd", "ps1", "vbs", "vbe", "js",
    "jse", "wsf", "wsh", "hta", "jar", "lnk", "sh",
];

/// Where attachment bytes live. Keys are `{tenant_id}/{ticket_id}/{attachment_id}`: ids only,
/// never a name someone typed.
#[derive(Clone, Debug)]
pub struct AttachmentStore {
    inner: Arc<dyn ObjectStore>,
}

impl AttachmentStore {
    /// A directory on the local filesystem (created when missing).
    pub fn local(dir: &FsPath) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("creating the attachment directory {}: {e}", dir.display()))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| format!("opening the attachment directory {}: {e}", dir.display()))?;
        Ok(Self {
            inner: Arc::new(fs),
        })
    }

    /// From `TENANTDESK_ATTACHMENTS_URL`: `s3://bucket/optional/prefix` (credentials, region
    /// and endpoint from the standard `AWS_*` variables), `file:///path`, or a plain path.
    pub fn from_url(url: &str) -> Result<Self, String> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("TENANTDESK_ATTACHMENTS_URL: s3:// needs a bucket".into());
            }
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| format!("TENANTDESK_ATTACHMENTS_URL: {e}"))?;
            let prefix = prefix.trim_matches('/');
            let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
            };
            return Ok(Self { inner });
        }
        let path = url.strip_prefix("file://").unwrap_or(url);
        if path.contains("://") {
            return Err(format!(
                "TENANTDESK_ATTACHMENTS_URL: {url} is neither s3://bucket/prefix nor a directory"
            ));
        }
        Self::local(FsPath::new(path))
    }

    pub fn key(tenant_id: Uuid, ticket_id: Uuid, attachment_id: Uuid) -> String {
        format!("{tenant_id}/{ticket_id}/{attachment_id}")
    }

    /// Collects what a request writes, so that it can be removed if the request fails.
    pub fn stage(&self) -> Staged {
        Staged {
            inner: Arc::clone(&self.inner),
            keys: Vec::new(),
            kept: false,
        }
    }

    pub async fn open(&self, key: &str) -> Result<GetResult, object_store::Error> {
        self.inner.get(&Key::from(key)).await
    }

    pub async fn exists(&self, key: &str) -> Result<bool, object_store::Error> {
        match self.inner.head(&Key::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every key under a prefix (a tenant id, say): for checks and operations.
    pub async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, object_store::Error> {
        let prefix = Key::from(prefix);
        let mut listing = self.inner.list(Some(&prefix));
        let mut keys = Vec::new();
        while let Some(meta) = listing.next().await {
            keys.push(meta?.location.to_string());
        }
        Ok(keys)
    }
}

/// Objects written for a request whose transaction has not committed yet. Call
/// [`Staged::keep`] after the commit; otherwise they are deleted (by [`Staged::discard`], or
/// in the background when dropped).
pub struct Staged {
    inner: Arc<dyn ObjectStore>,
    keys: Vec<Key>,
    kept: bool,
}

impl Staged {
    async fn put(&mut self, key: &str, bytes: Vec<u8>) -> Result<(), object_store::Error> {
        let key = Key::from(key);
        // Recorded first: a write that fails half-way may still have left something.
        self.keys.push(key.clone());
        self.inner.put(&key, PutPayload::from(bytes)).await?;
        Ok(())
    }

    /// The transaction committed: the objects stay.
    pub fn keep(mut self) {
        self.kept = true;
    }

    /// The transaction rolled back: best-effort removal of what was written.
    pub async fn discard(mut self) {
        self.kept = true;
        remove(&self.inner, std::mem::take(&mut self.keys)).await;
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.kept || self.keys.is_empty() {
            return;
        }
        let keys = std::mem::take(&mut self.keys);
        let inner = Arc::clone(&self.inner);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { remove(&inner, keys).await });
        }
    }
}

async fn remove(inner: &Arc<dyn ObjectStore>, keys: Vec<Key>) {
    for key in keys {
        match inner.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                tracing::warn!(%key, %error, "could not remove the object of a rolled-back attachment");
            }
        }
    }
}

/// Why writing a message with files failed.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    Ticket(#[from] TicketError),
    /// The object store refused or failed a write: nothing commits.
    #[error("attachment store: {0}")]
    Storage(#[from] object_store::Error),
}

impl From<store::StoreError> for AttachError {
    fn from(error: store::StoreError) -> Self {
        Self::Ticket(error.into())
    }
}

/// A file as it arrived, nothing checked yet.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The name the client gave, as given.
    pub name: String,
    /// The declared content type, if any.
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// A file that passed the workspace's rules.
#[derive(Clone, Debug)]
struct Checked<'a> {
    name: String,
    content_type: String,
    bytes: &'a [u8],
}

/// The name to store: the last path component, without control characters, at most 255
/// characters; `attachment` when nothing is left.
pub fn sanitise_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let trimmed = cleaned.trim();
    let name: String = if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        "attachment".into()
    } else {
        trimmed.chars().take(255).collect()
    };
    name
}

/// The declared type's essence (`type/subtype`, lower case, parameters dropped), or
/// `application/octet-stream` when none or a malformed one was declared.
pub fn content_type_of(declared: Option<&str>) -> String {
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    declared
        .and_then(|raw| raw.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .filter(|essence| {
            essence
                .split_once('/')
                .is_some_and(|(kind, sub)| token(kind) && token(sub))
                && essence.len() <= 255
        })
        .unwrap_or_else(|| "application/octet-stream".into())
}

fn type_allowed(content_type: &str, allowed: &[String]) -> bool {
    allowed.is_empty()
        || allowed.iter().any(|a| {
            let a = a.trim().to_ascii_lowercase();
            a == content_type
                || a.strip_suffix("/*")
                    .is_some_and(|kind| content_type.split('/').next() == Some(kind))
        })
}

/// Checks every file against the workspace's limits; errors name the file (`files[i]`).
async fn check<'a>(
    tx: &mut TenantTx,
    files: &'a [Upload],
) -> Result<Vec<Checked<'a>>, TicketError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let settings = store::ticket_settings::load(tx).await?;
    let max = usize::try_from(settings.attachment_max_bytes).unwrap_or(HARD_MAX_BYTES);
    let mut errors = Vec::new();
    if files.len() > MAX_FILES {
        errors.push((
            "files".to_owned(),
            format!("at most {MAX_FILES} files per message"),
        ));
    }
    let mut checked = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let field = format!("files[{index}]");
        let name = sanitise_name(&file.name);
        let content_type = content_type_of(file.content_type.as_deref());
        let extension = name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase());
        if file.bytes.len() > max {
            errors.push((
                field,
                format!("{name} is larger than the workspace's limit of {max} bytes"),
            ));
        } else if DENIED_TYPES.contains(&content_type.as_str())
            || extension.is_some_and(|ext| DENIED_EXTENSIONS.contains(&ext.as_str()))
        {
            errors.push((
                field,
                format!("{name} is a program or script ({content_type}); those are never accepted"),
            ));
        } else if !type_allowed(&content_type, &settings.attachment_allowed_types) {
            errors.push((
                field,
                format!("{name} has type {content_type}, which this workspace does not accept"),
            ));
        } else {
            checked.push(Checked {
                name,
                content_type,
                bytes: &file.bytes,
            });
        }
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(TicketError::Invalid(errors))
    }
}

/// Writes checked files of an entry: the object first, then its row.
async fn attach(
    tx: &mut TenantTx,
    staged: &mut Staged,
    ticket_id: Uuid,
    entry_id: Uuid,
    files: Vec<Checked<'_>>,
) -> Result<Vec<Attachment>, AttachError> {
    let tenant_id = tx.tenant_id().as_uuid();
    for file in files {
        let id = Uuid::now_v7();
        let key = AttachmentStore::key(tenant_id, ticket_id, id);
        let sha256 = Sha256::digest(file.bytes);
        staged.put(&key, file.bytes.to_vec()).await?;
        store::ticket_attachments::insert(
            tx,
            &NewAttachment {
                id,
                ticket_id,
                entry_id,
                name: &file.name,
                content_type: &file.content_type,
                size_bytes: i64::try_from(file.bytes.len()).unwrap_or(i64::MAX),
                sha256: sha256.as_slice(),
                storage_key: &key,
            },
        )
        .await?;
    }
    Ok(store::ticket_attachments::for_entry(tx, entry_id).await?)
}

/// A reply with files, in the caller's transaction; the caller keeps `staged` after commit.
#[allow(clippy::too_many_arguments)]
pub async fn reply(
    tx: &mut TenantTx,
    staged: &mut Staged,
    scope: TicketScope,
    actor: TicketActor,
    id: Uuid,
    body: &MessageBody,
    files: &[Upload],
) -> Result<(Ticket, Entry, Vec<Attachment>), AttachError> {
    let (ticket, entry) = tickets::reply(tx, scope, actor, id, body).await?;
    let checked = check(tx, files).await?;
    let attachments = attach(tx, staged, id, entry.id, checked).await?;
    Ok((ticket, entry, attachments))
}

/// An internal note with files, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub async fn note(
    tx: &mut TenantTx,
    staged: &mut Staged,
    scope: TicketScope,
    actor: TicketActor,
    id: Uuid,
    body: &MessageBody,
    files: &[Upload],
) -> Result<(Ticket, Entry, Vec<Attachment>), AttachError> {
    let (ticket, entry) = tickets::note(tx, scope, actor, id, body).await?;
    let checked = check(tx, files).await?;
    let attachments = attach(tx, staged, id, entry.id, checked).await?;
    Ok((ticket, entry, attachments))
}

/// A new ticket whose first message carries files, in the caller's transaction.
pub async fn create(
    tx: &mut TenantTx,
    staged: &mut Staged,
    actor: TicketActor,
    input: &tickets::NewTicketInput,
    files: &[Upload],
) -> Result<(Ticket, Vec<Attachment>), AttachError> {
    let ticket = tickets::create(tx, actor, input).await?;
    let checked = check(tx, files).await?;
    if checked.is_empty() {
        return Ok((ticket, Vec::new()));
    }
    let first_message = store::ticket_thread::thread(tx, ticket.id)
        .await?
        .into_iter()
        .find(|entry| entry.kind == store::ticket_thread::EntryKind::Message)
        .ok_or(TicketError::NotFound)?;
    let attachments = attach(tx, staged, ticket.id, first_message.id, checked).await?;
    Ok((ticket, attachments))
}

/// A ticket's attachments grouped by thread entry (in thread order), for the ticket page;
/// `None` when the ticket is not visible in `scope`.
pub async fn by_entry(
    tx: &mut TenantTx,
    scope: TicketScope,
    ticket_id: Uuid,
) -> Result<Option<Vec<(Uuid, Vec<Attachment>)>>, store::StoreError> {
    if store::tickets::by_id(tx, scope, ticket_id).await?.is_none() {
        return Ok(None);
    }
    let mut grouped: Vec<(Uuid, Vec<Attachment>)> = Vec::new();
    for attachment in store::ticket_attachments::for_ticket(tx, ticket_id).await? {
        match grouped
            .iter_mut()
            .find(|(entry, _)| *entry == attachment.entry_id)
        {
            Some((_, list)) => list.push(attachment),
            None => grouped.push((attachment.entry_id, vec![attachment])),
        }
    }
    Ok(Some(grouped))
}

/// An attachment the caller may download: its row, after the ticket's access check.
pub async fn visible(
    tx: &mut TenantTx,
    scope: TicketScope,
    id: Uuid,
) -> Result<Option<Attachment>, store::StoreError> {
    let Some(attachment) = store::ticket_attachments::by_id(tx, id).await? else {
        return Ok(None);
    };
    if store::tickets::by_id(tx, scope, attachment.ticket_id)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    Ok(Some(attachment))
}

/// `Content-Disposition: attachment` with an ASCII fallback and the exact name (RFC 6266).
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The download response: the stored type, never rendered, never sniffed.
pub async fn download_response(
    attachments: &AttachmentStore,
    attachment: &Attachment,
) -> Result<axum::response::Response, object_store::Error> {
    use axum::http::header;
    let object = attachments.open(&attachment.storage_key).await?;
    let body = axum::body::Body::from_stream(object.into_stream());
    let content_type = if attachment.content_type.is_empty() {
        "application/octet-stream"
    } else {
        attachment.content_type.as_str()
    };
    let headers = [
        (header::CONTENT_TYPE, content_type.to_owned()),
        (
            header::CONTENT_DISPOSITION,
            content_disposition(&attachment.name),
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'".to_owned(),
        ),
        (header::CACHE_CONTROL, "private, no-store".to_owned()),
        (header::CONTENT_LENGTH, attachment.size_bytes.to_string()),
    ];
    Ok(axum::response::IntoResponse::into_response((headers, body)))
}

/// Lower-case hex of a checksum.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_paths_and_control_characters() {
        assert_eq!(sanitise_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitise_name("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(sanitise_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(sanitise_name("dir/"), "attachment");
        assert_eq!(sanitise_name(&"x".repeat(300)).chars().count(), 255);
    }

    #[test]
    fn declared_types_are_reduced_to_their_essence() {
        assert_eq!(
            content_type_of(Some("Text/Plain; charset=utf-8")),
            "text/plain"
        );
        assert_eq!(
            content_type_of(Some("nonsense")),
            "application/octet-stream"
        );
        assert_eq!(content_type_of(None), "application/octet-stream");
        assert!(type_allowed("image/png", &["image/*".into()]));
        assert!(!type_allowed("text/plain", &["image/*".into()]));
        assert!(type_allowed("text/plain", &[]));
    }

    #[test]
    fn dispositions_always_say_attachment() {
        assert_eq!(
            content_disposition("Grüße \"x\".txt"),
            "attachment; filename=\"Gr__e _x_.txt\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%22x%22.txt"
        );
    }
}
