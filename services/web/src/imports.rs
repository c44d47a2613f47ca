//! CSV import and export of the directory (end users and organizations), shared by the API,
//! the agent's import page and `tenantdesk import`: the columns, the file-level checks, the
//! streaming read, matching and writing in one tenant transaction, the report, and the export.
//!
//! An import reads its file twice, never holding it in memory: a first pass on a blocking
//! thread checks what concerns the whole file (encoding, size, row count, the header), so a
//! file with such a problem is refused before any write; the second pass sends parsed rows
//! through a bounded channel to the writer, which writes them in ONE transaction, each row in
//! a savepoint so that a bad row (an invalid value, a taken email) is undone alone and the
//! report can name every bad line. Dry runs write too and roll back at the end, so database
//! conflicts show in their report as well.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom, Write};

use axum::body::Bytes;
use domain::custom_fields::{
    FieldDefinition, FieldEntity, apply_custom_values, parse_text_value, text_value,
};
use domain::{CountryCode, PhoneNumber, TenantId, Validity};
use serde::Serialize;
use serde_json::{Map, Value};
use store::organizations::{
    City, Comment, CustomerCode, EmailDomain, ListQuery, MembershipChange, MembershipError,
    OrganizationChange, OrganizationName, Sort, Street, TicketSharing, Website, Zip,
};
use store::user_directory::{Actor, PROFILE_FIELDS, UserQuery, UserRecord, UserSort};
use store::{Store, StoreError, TenantTx};
use tokio::sync::mpsc;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::directory::{DirectoryError, UserChanges, create_user, update_user};

/// Default largest file: 50 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 50 * 1024 * 1024;
/// Default most data rows in one file.
pub const DEFAULT_MAX_ROWS: u64 = 200_000;

/// Rows in flight between the reading thread and the writer: enough to keep the writer busy,
/// few enough that memory stays flat whatever the file's size.
const ROWS_IN_FLIGHT: usize = 256;

/// Rows per database page of an export.
const EXPORT_PAGE: usize = 500;

/// The user column naming an organization (by name or customer code) the user belongs to.
const ORGANIZATION_COLUMN: &str = "organization";

/// The organization columns besides custom fields, in export order.
pub const ORGANIZATION_FIELDS: [&str; 15] = [
    "name",
    "customer_code",
    "street",
    "zip",
    "city",
    "country",
    "phone",
    "website",
    "comment",
    "validity",
    "ticket_sharing",
    "auto_collaborate_primary_contacts",
    "assign_to_account_manager",
    "alert_account_manager",
    "domains",
];

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    Users,
    Organizations,
}

impl Entity {
    /// `users` or `organizations` (the CLI's `orgs` too).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "users" => Some(Self::Users),
            "organizations" | "orgs" => Some(Self::Organizations),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Organizations => "organizations",
        }
    }

    fn field_entity(self) -> FieldEntity {
        match self {
            Self::Users => FieldEntity::User,
            Self::Organizations => FieldEntity::Organization,
        }
    }

    /// Columns a file must have.
    pub fn required_columns(self) -> &'static [&'static str] {
        match self {
            Self::Users => &["first_name", "last_name", "email"],
            Self::Organizations => &["name"],
        }
    }

    /// Columns besides custom fields, in export order.
    pub fn fixed_columns(self) -> Vec<&'static str> {
        match self {
            Self::Users => PROFILE_FIELDS
                .iter()
                .copied()
                .chain([ORGANIZATION_COLUMN])
                .collect(),
            Self::Organizations => ORGANIZATION_FIELDS.to_vec(),
        }
    }
}

/// How an import treats bad rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Check every row, report, write nothing.
    DryRun,
    /// Write every row, or none when any is bad.
    AllOrNothing,
    /// Write the good rows, report the bad ones.
    SkipBadRows,
}

impl Mode {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "dry_run" => Some(Self::DryRun),
            "all_or_nothing" => Some(Self::AllOrNothing),
            "skip_bad_rows" => Some(Self::SkipBadRows),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DryRun => "dry_run",
            Self::AllOrNothing => "all_or_nothing",
            Self::SkipBadRows => "skip_bad_rows",
        }
    }
}

/// How big an import may be (TENANTDESK_IMPORT_MAX_BYTES, TENANTDESK_IMPORT_MAX_ROWS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportLimits {
    pub max_bytes: u64,
    pub max_rows: u64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            max_rows: DEFAULT_MAX_ROWS,
        }
    }
}

/// One problem with one row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    /// The line of the file the row starts on (the header is line 1).
    pub line: u64,
    /// The column at fault, when it is one column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

/// What an import did, or in a dry run would do.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "entity": "users", "mode": "skip_bad_rows", "rows": 3, "created": 1, "updated": 1,
    "skipped": 1, "written": true,
    "errors": [{"line": 4, "field": "email", "message": "must be an email address such as name@example.com"}]
}))]
pub struct Report {
    /// `users` or `organizations`.
    pub entity: &'static str,
    /// `dry_run`, `all_or_nothing` or `skip_bad_rows`.
    pub mode: &'static str,
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Good rows that create a record (in a dry run or a refused file: would create).
    pub created: u64,
    /// Good rows that change an existing record (users matched by email, organizations by
    /// customer code, or by name when the row has no code).
    pub updated: u64,
    /// Bad rows, each with at least one entry in `errors`.
    pub skipped: u64,
    /// Whether anything was saved: false for dry runs, and for all-or-nothing imports with a
    /// bad row.
    pub written: bool,
    /// Every problem of every bad row, in file order.
    pub errors: Vec<RowError>,
}

/// A problem with the file as a whole: nothing was written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error("the file is larger than the limit of {} (TENANTDESK_IMPORT_MAX_BYTES)", human_bytes(*.max_bytes))]
    TooLarge { max_bytes: u64 },
    #[error(
        "the file has more than {max_rows} rows, the limit of one import (TENANTDESK_IMPORT_MAX_ROWS)"
    )]
    TooManyRows { max_rows: u64 },
    #[error("line {line} is not UTF-8 text: save the file as UTF-8 (\"CSV UTF-8\") and try again")]
    NotUtf8 { line: u64 },
    #[error("the file is empty: its first line must name the columns")]
    NoHeader,
    #[error("{}", column_messages(.missing, .unknown, .duplicate).join("; "))]
    Columns {
        missing: Vec<String>,
        unknown: Vec<String>,
        duplicate: Vec<String>,
    },
    #[error("the file cannot be read as CSV: {0}")]
    Unreadable(String),
}

impl FileProblem {
    /// The problem as (field, message) pairs: `file` for the file, `columns` for the header.
    pub fn field_errors(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Columns {
                missing,
                unknown,
                duplicate,
            } => column_messages(missing, unknown, duplicate)
                .into_iter()
                .map(|message| ("columns", message))
                .collect(),
            other => vec![("file", other.to_string())],
        }
    }
}

fn column_messages(missing: &[String], unknown: &[String], duplicate: &[String]) -> Vec<String> {
    let mut messages = Vec::new();
    if !missing.is_empty() {
        messages.push(format!(
            "required columns are missing: {}",
            missing.join(", ")
        ));
    }
    if !unknown.is_empty() {
        messages.push(format!(
            "unknown columns: {} (columns are named by field, custom fields by their key)",
            unknown.join(", ")
        ));
    }
    if !duplicate.is_empty() {
        messages.push(format!("columns named twice: {}", duplicate.join(", ")));
    }
    messages
}

/// A size as people read limits: "50 MiB", or bytes when it is not whole mebibytes.
pub fn human_bytes(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Why an import stopped without a report.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file as a whole is unusable; nothing was written.
    #[error(transparent)]
    File(#[from] FileProblem),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// What to import and as whom.
#[derive(Clone, Copy, Debug)]
pub struct ImportOptions {
    pub entity: Entity,
    pub mode: Mode,
    pub limits: ImportLimits,
    pub actor: Actor,
}

/// Where one column's cells go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    /// A field of [`Entity::fixed_columns`].
    Fixed(&'static str),
    /// The custom field at this index of the definitions.
    Custom(usize),
}

/// The columns of a file, in file order.
#[derive(Clone, Debug)]
struct Layout {
    columns: Vec<Column>,
}

/// The name a custom field's column has in files: its key, or `custom.<key>` when the key
/// is also the name of a fixed column.
fn custom_column_name(entity: Entity, definition: &FieldDefinition) -> String {
    if entity.fixed_columns().contains(&definition.key.as_str()) {
        definition.field_name()
    } else {
        definition.key.clone()
    }
}

/// Matches header names (trimmed, case ignored) to fields; custom fields answer to their key
/// and to `custom.<key>`.
fn layout(
    entity: Entity,
    headers: &[String],
    definitions: &[FieldDefinition],
) -> Result<Layout, FileProblem> {
    let fixed = entity.fixed_columns();
    let mut columns = Vec::with_capacity(headers.len());
    let mut unknown = Vec::new();
    let mut duplicate = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        let name = header.trim().to_lowercase();
        let column = if let Some(field) = fixed.iter().find(|f| **f == name) {
            Some(Column::Fixed(field))
        } else {
            let key = name.strip_prefix("custom.").unwrap_or(&name);
            let by_key = definitions.iter().position(|d| d.key == key);
            // A bare key equal to a fixed column's name means the fixed column.
            by_key.map(Column::Custom)
        };
        match column {
            Some(column) if columns.contains(&column) => duplicate.push(header.trim().to_owned()),
            Some(column) => columns.push(column),
            None if name.is_empty() => unknown.push(format!("(column {} has no name)", index + 1)),
            None => unknown.push(header.trim().to_owned()),
        }
    }
    let missing: Vec<String> = entity
        .required_columns()
        .iter()
        .filter(|field| !columns.contains(&Column::Fixed(field)))
        .map(|field| (*field).to_owned())
        .collect();
    if missing.is_empty() && unknown.is_empty() && duplicate.is_empty() {
        Ok(Layout { columns })
    } else {
        Err(FileProblem::Columns {
            missing,
            unknown,
            duplicate,
        })
    }
}

fn csv_reader(file: File) -> csv::Reader<BufReader<File>> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        // A row with too few or too many cells is a bad row, not a broken file.
        .flexible(true)
        .from_reader(BufReader::with_capacity(64 * 1024, file))
}

fn read_error(error: csv::Error) -> FileProblem {
    match error.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => FileProblem::NotUtf8 {
            line: pos.as_ref().map_or(1, csv::Position::line),
        },
        _ => FileProblem::Unreadable(error.to_string()),
    }
}

/// The first pass: size, encoding, header and row count, without a database. Returns the
/// layout and the number of data rows.
fn survey(
    file: &File,
    entity: Entity,
    definitions: &[FieldDefinition],
    limits: ImportLimits,
) -> Result<(Layout, u64), FileProblem> {
    let size = file
        .metadata()
        .map_err(|e| FileProblem::Unreadable(e.to_string()))?
        .len();
    if size > limits.max_bytes {
        return Err(FileProblem::TooLarge {
            max_bytes: limits.max_bytes,
        });
    }
    let mut handle = file
        .try_clone()
        .map_err(|e| FileProblem::Unreadable(e.to_string()))?;
    handle
        .seek(SeekFrom::Start(0))
        .map_err(|e| FileProblem::Unreadable(e.to_string()))?;
    let mut reader = csv_reader(handle);
    let raw_headers = reader.byte_headers().map_err(read_error)?.clone();
    if raw_headers.is_empty() || (raw_headers.len() == 1 && raw_headers[0].is_empty()) {
        return Err(FileProblem::NoHeader);
    }
    let mut headers = Vec::with_capacity(raw_headers.len());
    for raw in &raw_headers {
        let text = std::str::from_utf8(raw).map_err(|_| FileProblem::NotUtf8 { line: 1 })?;
        headers.push(text.to_owned());
    }
    // Spreadsheet programs start "CSV UTF-8" files with a byte order mark.
    if let Some(first) = headers.first_mut()
        && let Some(rest) = first.strip_prefix('\u{feff}')
    {
        *first = rest.to_owned();
    }
    let layout = layout(entity, &headers, definitions)?;
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record).map_err(read_error)? {
        rows += 1;
        if rows > limits.max_rows {
            return Err(FileProblem::TooManyRows {
                max_rows: limits.max_rows,
            });
        }
        if std::str::from_utf8(record.as_slice()).is_err() {
            return Err(FileProblem::NotUtf8 {
                line: record.position().map_or(rows + 1, csv::Position::line),
            });
        }
    }
    Ok((layout, rows))
}

/// One data row as read: the line it starts on and its cells.
struct Row {
    line: u64,
    cells: csv::StringRecord,
}

/// The second pass: reads rows on the calling (blocking) thread and sends them on until the
/// file ends or the receiver is gone.
fn send_rows(file: File, rows: mpsc::Sender<Result<Row, FileProblem>>) {
    let mut handle = file;
    if let Err(error) = handle.seek(SeekFrom::Start(0)) {
        let _ = rows.blocking_send(Err(FileProblem::Unreadable(error.to_string())));
        return;
    }
    let mut reader = csv_reader(handle);
    for (index, record) in reader.records().enumerate() {
        let row = record.map_err(read_error).map(|cells| Row {
            line: cells
                .position()
                .map_or(index as u64 + 2, csv::Position::line),
            cells,
        });
        let failed = row.is_err();
        if rows.blocking_send(row).is_err() || failed {
            return;
        }
    }
}

/// A cell as imported: trimmed, and with the `'` that exports put before formula-like text
/// (see [`export_cell`]) taken off again.
fn import_cell(raw: &str) -> &str {
    let cell = raw.trim();
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// A cell as exported: a value a spreadsheet would run as a formula (`=`, `@`, or `+`/`-`
/// followed by more than a phone number or a number) gets a leading `'`, which
/// [`import_cell`] removes.
fn export_cell(value: &str) -> std::borrow::Cow<'_, str> {
    let risky = match value.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => !value
            .chars()
            .all(|c| c.is_ascii_digit() || " ()./-+".contains(c)),
        _ => false,
    };
    if risky {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// Whether a row created a record or changed one.
enum Written {
    Created,
    Updated,
}

/// Why a row was not written.
enum RowFailure {
    /// The row is bad; the problems say why. Its writes are undone.
    Bad(Vec<RowError>),
    /// The import cannot go on (the database failed).
    Fatal(ImportError),
}

impl From<StoreError> for RowFailure {
    fn from(error: StoreError) -> Self {
        Self::Fatal(ImportError::Store(error))
    }
}

fn bad(line: u64, field: Option<&str>, message: impl Into<String>) -> RowFailure {
    RowFailure::Bad(vec![RowError {
        line,
        field: field.map(str::to_owned),
        message: message.into(),
    }])
}

/// The state of one import between rows.
struct Writer<'a> {
    options: ImportOptions,
    definitions: &'a [FieldDefinition],
    layout: &'a Layout,
    /// Match keys seen so far (lower case) and their line: a record once per file.
    seen: HashMap<String, u64>,
    /// Organizations named in the user file, by lower-case name or code.
    organizations: HashMap<String, Option<Uuid>>,
}

impl Writer<'_> {
    fn agent(&self) -> Option<Uuid> {
        match self.options.actor {
            Actor::Agent(id) => Some(id),
            _ => None,
        }
    }

    fn cells<'c>(&self, row: &'c Row) -> Result<Vec<(Column, &'c str)>, RowFailure> {
        if row.cells.len() != self.layout.columns.len() {
            return Err(bad(
                row.line,
                None,
                format!(
                    "has {} cells but the header names {} columns",
                    row.cells.len(),
                    self.layout.columns.len()
                ),
            ));
        }
        Ok(self
            .layout
            .columns
            .iter()
            .copied()
            .zip(row.cells.iter().map(import_cell))
            .collect())
    }

    /// Custom values of the row by key, parsed from text; errors name `custom.<key>`.
    fn custom_values(
        &self,
        line: u64,
        cells: &[(Column, &str)],
        errors: &mut Vec<RowError>,
    ) -> Option<Map<String, Value>> {
        let mut values = Map::new();
        let mut any = false;
        for (column, cell) in cells {
            let Column::Custom(index) = column else {
                continue;
            };
            any = true;
            let definition = &self.definitions[*index];
            match parse_text_value(definition, cell) {
                Ok(value) => {
                    values.insert(definition.key.clone(), value);
                }
                Err(message) => errors.push(RowError {
                    line,
                    field: Some(definition.field_name()),
                    message,
                }),
            }
        }
        any.then_some(values)
    }

    /// Notes the row's match key; a second row with the same key is bad.
    fn once(&mut self, line: u64, key: String, field: &str, what: &str) -> Result<(), RowFailure> {
        if let Some(first) = self.seen.get(&key) {
            return Err(bad(
                line,
                Some(field),
                format!("{what} is also on line {first}; put each record in the file once"),
            ));
        }
        self.seen.insert(key, line);
        Ok(())
    }

    async fn write(&mut self, tx: &mut TenantTx, row: &Row) -> Result<Written, RowFailure> {
        match self.options.entity {
            Entity::Users => self.write_user(tx, row).await,
            Entity::Organizations => self.write_organization(tx, row).await,
        }
    }

    async fn write_user(&mut self, tx: &mut TenantTx, row: &Row) -> Result<Written, RowFailure> {
        let line = row.line;
        let cells = self.cells(row)?;
        let mut errors = Vec::new();
        let mut changes = UserChanges {
            custom: self.custom_values(line, &cells, &mut errors),
            ..UserChanges::default()
        };
        let mut email = String::new();
        let mut organization = None;
        for (column, cell) in &cells {
            match column {
                Column::Fixed(ORGANIZATION_COLUMN) => {
                    organization = (!cell.is_empty()).then_some(*cell);
                }
                // An empty validity keeps the record's (new records are valid).
                Column::Fixed("validity") if cell.is_empty() => {}
                Column::Fixed(field) => {
                    if *field == "email" {
                        email = cell.to_lowercase();
                    }
                    changes.text.push(((*field).to_owned(), (*cell).to_owned()));
                }
                Column::Custom(_) => {}
            }
        }
        if !errors.is_empty() {
            return Err(RowFailure::Bad(errors));
        }
        if !email.is_empty() {
            self.once(line, format!("email:{email}"), "email", "this email")?;
        }
        let existing = if email.is_empty() {
            None
        } else {
            store::user_directory::by_email(tx, &email).await?
        };
        let actor = self.options.actor;
        let (record, written) = match existing {
            Some(record) => (
                update_user(tx, self.definitions, record.id, None, &changes, actor).await,
                Written::Updated,
            ),
            None => (
                create_user(tx, self.definitions, &changes, actor).await,
                Written::Created,
            ),
        };
        let record = record.map_err(|error| directory_failure(line, error))?;
        if let Some(organization) = organization {
            let Some(id) = self.organization_id(tx, organization).await? else {
                return Err(bad(
                    line,
                    Some(ORGANIZATION_COLUMN),
                    format!("no organization has the name or customer code \"{organization}\""),
                ));
            };
            store::organizations::put_member(tx, id, record.id, MembershipChange::default())
                .await
                .map_err(|error| match error {
                    MembershipError::NotFound => bad(
                        line,
                        Some(ORGANIZATION_COLUMN),
                        "the organization or the user is gone",
                    ),
                    MembershipError::Store(error) => error.into(),
                })?;
        }
        Ok(written)
    }

    /// The organization whose name or customer code is `named` (case ignored), remembered
    /// for the rest of the file.
    async fn organization_id(
        &mut self,
        tx: &mut TenantTx,
        named: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        let key = named.to_lowercase();
        if let Some(found) = self.organizations.get(&key) {
            return Ok(*found);
        }
        let found = find_organization(tx, named, Match::NameOrCode).await?;
        self.organizations.insert(key, found);
        Ok(found)
    }

    async fn write_organization(
        &mut self,
        tx: &mut TenantTx,
        row: &Row,
    ) -> Result<Written, RowFailure> {
        let line = row.line;
        let cells = self.cells(row)?;
        let mut errors = Vec::new();
        let custom = self.custom_values(line, &cells, &mut errors);
        let mut change = OrganizationChange::default();
        let mut name = None;
        let mut code = None;
        for (column, cell) in &cells {
            let Column::Fixed(field) = column else {
                continue;
            };
            if let Err(message) = set_organization_field(&mut change, &mut name, field, cell) {
                errors.push(RowError {
                    line,
                    field: Some((*field).to_owned()),
                    message,
                });
            }
            if *field == "customer_code" && !cell.is_empty() {
                code = Some(cell.to_lowercase());
            }
        }
        if !errors.is_empty() {
            return Err(RowFailure::Bad(errors));
        }
        let Some(name) = name else {
            return Err(bad(line, Some("name"), "must not be empty"));
        };
        // Match by customer code when the row has one, else by name.
        let (by, key, what) = match &code {
            Some(code) => (Match::Code, code.clone(), "customer_code"),
            None => (Match::Name, name.as_str().to_lowercase(), "name"),
        };
        self.once(line, format!("{what}:{key}"), what, &format!("this {what}"))?;
        let existing = find_organization(tx, &key, by).await?;
        if let Some(domains) = change.domains.as_deref().filter(|d| !d.is_empty()) {
            let taken = store::organizations::domains_taken(tx, existing, domains).await?;
            if !taken.is_empty() {
                let list: Vec<String> = taken
                    .iter()
                    .map(|(domain, owner)| format!("{domain} belongs to {owner}"))
                    .collect();
                return Err(bad(line, Some("domains"), list.join("; ")));
            }
        }
        let agent = self.agent();
        let conflict = |error: StoreError| match error {
            StoreError::Conflict { field } => bad(line, Some(field), "is already taken"),
            other => other.into(),
        };
        match existing {
            Some(id) => {
                let stored = store::organizations::for_update(tx, id)
                    .await?
                    .ok_or_else(|| bad(line, None, "the organization is gone"))?;
                if let Some(custom) = &custom {
                    change.custom = Some(
                        apply_custom_values(self.definitions, &stored.custom, custom)
                            .map_err(|problems| custom_failure(line, problems))?,
                    );
                }
                change.name = Some(name);
                store::organizations::update(tx, id, &change, agent)
                    .await
                    .map_err(conflict)?;
                Ok(Written::Updated)
            }
            None => {
                let values = custom.unwrap_or_default();
                change.custom = Some(
                    apply_custom_values(self.definitions, &Map::new(), &values)
                        .map_err(|problems| custom_failure(line, problems))?,
                );
                store::organizations::create(tx, &name, &change, agent)
                    .await
                    .map_err(conflict)?;
                Ok(Written::Created)
            }
        }
    }
}

fn custom_failure(line: u64, problems: Vec<domain::custom_fields::CustomFieldError>) -> RowFailure {
    RowFailure::Bad(
        problems
            .into_iter()
            .map(|p| RowError {
                line,
                field: Some(p.field),
                message: p.message,
            })
            .collect(),
    )
}

fn directory_failure(line: u64, error: DirectoryError) -> RowFailure {
    let one = |field: Option<&str>, message: String| bad(line, field, message);
    match error {
        DirectoryError::Invalid(errors) => RowFailure::Bad(
            errors
                .into_iter()
                .map(|(field, message)| RowError {
                    line,
                    field: Some(field),
                    message,
                })
                .collect(),
        ),
        DirectoryError::Conflict(field) => one(
            Some(field),
            format!("is already taken by another user of this help desk ({field})"),
        ),
        DirectoryError::Stale => one(None, "the user was changed during the import".into()),
        DirectoryError::NotFound => one(None, "the user is gone".into()),
        DirectoryError::Refused(message) => one(None, message),
        DirectoryError::Store(error) => RowFailure::Fatal(ImportError::Store(error)),
        DirectoryError::Internal(error) => {
            RowFailure::Fatal(ImportError::Internal(error.to_string()))
        }
    }
}

/// Sets one organization column from its cell. An empty cell clears an optional field and
/// leaves validity, sharing and the flags as they are.
fn set_organization_field(
    change: &mut OrganizationChange,
    name: &mut Option<OrganizationName>,
    field: &str,
    cell: &str,
) -> Result<(), String> {
    fn optional<T>(
        cell: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<Option<T>>, String> {
        if cell.is_empty() {
            Ok(Some(None))
        } else {
            parse(cell).map(|value| Some(Some(value)))
        }
    }
    fn flag(cell: &str) -> Result<Option<bool>, String> {
        match cell.to_lowercase().as_str() {
            "" => Ok(None),
            "yes" | "y" | "true" | "1" | "on" => Ok(Some(true)),
            "no" | "n" | "false" | "0" | "off" => Ok(Some(false)),
            _ => Err("must be yes or no".into()),
        }
    }
    match field {
        "name" => *name = Some(OrganizationName::parse(cell)?),
        "customer_code" => change.customer_code = optional(cell, CustomerCode::parse)?,
        "street" => change.street = optional(cell, Street::parse)?,
        "zip" => change.zip = optional(cell, Zip::parse)?,
        "city" => change.city = optional(cell, City::parse)?,
        "country" => {
            change.country = optional(cell, |c| CountryCode::parse(c).map_err(|e| e.to_string()))?;
        }
        "phone" => {
            change.phone = optional(cell, |c| PhoneNumber::parse(c).map_err(|e| e.to_string()))?;
        }
        "website" => change.website = optional(cell, Website::parse)?,
        "comment" => change.comment = optional(cell, Comment::parse)?,
        "validity" if cell.is_empty() => {}
        "validity" => change.validity = Some(Validity::parse(cell).map_err(|e| e.to_string())?),
        "ticket_sharing" if cell.is_empty() => {}
        "ticket_sharing" => change.ticket_sharing = Some(TicketSharing::parse(cell)?),
        "auto_collaborate_primary_contacts" => {
            change.auto_collaborate_primary_contacts = flag(cell)?;
        }
        "assign_to_account_manager" => change.assign_to_account_manager = flag(cell)?,
        "alert_account_manager" => change.alert_account_manager = flag(cell)?,
        "domains" => {
            let mut domains = Vec::new();
            for piece in cell.split('|').map(str::trim).filter(|p| !p.is_empty()) {
                let domain = EmailDomain::parse(piece)?;
                if !domains.contains(&domain) {
                    domains.push(domain);
                }
            }
            change.domains = Some(domains);
        }
        _ => return Err("is not a known column".into()),
    }
    Ok(())
}

/// How a file row finds its organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Match {
    Name,
    Code,
    /// A code first, else a name (the users file's `organization` column).
    NameOrCode,
}

/// The organization whose name or customer code equals `text` ignoring case. The directory's
/// search function narrows the candidates by index (a plain ILIKE could not use one under
/// row-level security); the exact comparison happens here.
async fn find_organization(
    tx: &mut TenantTx,
    text: &str,
    by: Match,
) -> Result<Option<Uuid>, StoreError> {
    let wanted = text.trim().to_lowercase();
    if wanted.is_empty() {
        return Ok(None);
    }
    let mut query = ListQuery {
        search: Some(store::search::like_pattern(&text.replace('*', ""))),
        validity: None,
        custom: None,
        sort: Sort::Name,
        descending: false,
        after: None,
        limit: 200,
    };
    let mut by_name = None;
    loop {
        let page = store::organizations::list(tx, &query).await?;
        for organization in &page.items {
            let code_matches = organization
                .customer_code
                .as_deref()
                .is_some_and(|code| code.to_lowercase() == wanted);
            let name_matches = organization.name.to_lowercase() == wanted;
            match by {
                Match::Code if code_matches => return Ok(Some(organization.id)),
                Match::Name if name_matches => return Ok(Some(organization.id)),
                Match::NameOrCode if code_matches => return Ok(Some(organization.id)),
                Match::NameOrCode if name_matches => by_name = by_name.or(Some(organization.id)),
                _ => {}
            }
        }
        match page.next {
            Some(after) => query.after = Some(after),
            None => return Ok(by_name),
        }
    }
}

/// Runs an import of `file` in `tx` and commits it unless the mode and the rows say not to.
/// `progress` hears (rows done, rows in the file) after each row.
pub async fn import(
    mut tx: TenantTx,
    file: File,
    options: ImportOptions,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<Report, ImportError> {
    let definitions = store::custom_fields::active(&mut tx, options.entity.field_entity()).await?;
    let surveyed = {
        let definitions = definitions.clone();
        tokio::task::spawn_blocking(move || {
            survey(&file, options.entity, &definitions, options.limits).map(|s| (s, file))
        })
        .await
        .map_err(|e| ImportError::Internal(format!("reading the file failed: {e}")))?
    };
    let ((layout, total), file) = surveyed?;
    let (sender, mut rows) = mpsc::channel(ROWS_IN_FLIGHT);
    let reader = tokio::task::spawn_blocking(move || send_rows(file, sender));
    let mut writer = Writer {
        options,
        definitions: &definitions,
        layout: &layout,
        seen: HashMap::new(),
        organizations: HashMap::new(),
    };
    let mut report = Report {
        entity: options.entity.as_str(),
        mode: options.mode.as_str(),
        rows: 0,
        created: 0,
        updated: 0,
        skipped: 0,
        written: false,
        errors: Vec::new(),
    };
    while let Some(row) = rows.recv().await {
        let row = row?;
        report.rows += 1;
        store::savepoints::begin(&mut tx).await?;
        match writer.write(&mut tx, &row).await {
            Ok(written) => {
                store::savepoints::keep(&mut tx).await?;
                match written {
                    Written::Created => report.created += 1,
                    Written::Updated => report.updated += 1,
                }
            }
            Err(RowFailure::Bad(errors)) => {
                store::savepoints::undo(&mut tx).await?;
                report.skipped += 1;
                report.errors.extend(errors);
            }
            Err(RowFailure::Fatal(error)) => return Err(error),
        }
        progress(report.rows, total);
    }
    reader
        .await
        .map_err(|e| ImportError::Internal(format!("reading the file failed: {e}")))?;
    report.written = match options.mode {
        Mode::DryRun => false,
        Mode::AllOrNothing => report.skipped == 0,
        Mode::SkipBadRows => true,
    };
    if report.written {
        tx.commit().await?;
    }
    // Otherwise dropping the transaction rolls every row back.
    Ok(report)
}

/// Why an upload could not be spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error(transparent)]
    TooLarge(FileProblem),
    #[error("the upload broke off: {0}")]
    Upload(String),
    #[error("the upload could not be stored: {0}")]
    Storage(String),
}

/// Writes an upload to an unnamed temporary file (gone when closed), refusing it as soon as
/// it grows past `max_bytes`. The chunks go to a blocking thread through a bounded channel,
/// so a large upload never sits in memory.
pub struct Spool {
    chunks: Option<mpsc::Sender<Bytes>>,
    writer: tokio::task::JoinHandle<std::io::Result<File>>,
    written: u64,
    max_bytes: u64,
}

impl Spool {
    pub fn new(max_bytes: u64) -> Self {
        let (chunks, mut incoming) = mpsc::channel::<Bytes>(16);
        let writer = tokio::task::spawn_blocking(move || {
            let file = tempfile::tempfile()?;
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
            while let Some(chunk) = incoming.blocking_recv() {
                out.write_all(&chunk)?;
            }
            out.into_inner().map_err(|e| e.into_error())
        });
        Self {
            chunks: Some(chunks),
            writer,
            written: 0,
            max_bytes,
        }
    }

    /// Adds a chunk; refuses once the total passes the limit.
    pub async fn push(&mut self, chunk: Bytes) -> Result<(), SpoolError> {
        self.written += chunk.len() as u64;
        if self.written > self.max_bytes {
            self.chunks = None;
            return Err(SpoolError::TooLarge(FileProblem::TooLarge {
                max_bytes: self.max_bytes,
            }));
        }
        let sender = self
            .chunks
            .as_ref()
            .ok_or_else(|| SpoolError::Storage("the spool is closed".into()))?;
        sender
            .send(chunk)
            .await
            .map_err(|_| SpoolError::Storage("the temporary file failed".into()))
    }

    /// The spooled file, flushed.
    pub async fn finish(mut self) -> Result<File, SpoolError> {
        self.chunks = None;
        self.writer
            .await
            .map_err(|e| SpoolError::Storage(e.to_string()))?
            .map_err(|e| SpoolError::Storage(e.to_string()))
    }
}

/// Spools a whole request body (see [`Spool`]).
pub async fn spool_body(body: axum::body::Body, max_bytes: u64) -> Result<File, SpoolError> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut spool = Spool::new(max_bytes);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| SpoolError::Upload(e.to_string()))?;
        spool.push(chunk).await?;
    }
    spool.finish().await
}

/// The header of an export (and the columns an import understands), custom fields last.
pub fn export_header(entity: Entity, definitions: &[FieldDefinition]) -> Vec<String> {
    entity
        .fixed_columns()
        .into_iter()
        .map(str::to_owned)
        .chain(
            definitions
                .iter()
                .map(|definition| custom_column_name(entity, definition)),
        )
        .collect()
}

fn user_cells(record: &UserRecord, definitions: &[FieldDefinition]) -> Vec<String> {
    PROFILE_FIELDS
        .iter()
        .map(|field| record.profile.text(field))
        .chain([record
            .primary_organization
            .as_ref()
            .map(|o| o.name.clone())
            .unwrap_or_default()])
        .chain(definitions.iter().map(|d| {
            record
                .profile
                .custom
                .get(&d.key)
                .map(text_value)
                .unwrap_or_default()
        }))
        .collect()
}

fn organization_cells(
    organization: &store::organizations::Organization,
    definitions: &[FieldDefinition],
) -> Vec<String> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let flag = |value: bool| if value { "yes" } else { "no" }.to_owned();
    [
        organization.name.clone(),
        text(&organization.customer_code),
        text(&organization.street),
        text(&organization.zip),
        text(&organization.city),
        text(&organization.country),
        text(&organization.phone),
        text(&organization.website),
        text(&organization.comment),
        organization.validity.as_str().to_owned(),
        organization.ticket_sharing.as_str().to_owned(),
        flag(organization.auto_collaborate_primary_contacts),
        flag(organization.assign_to_account_manager),
        flag(organization.alert_account_manager),
        organization.domains.join("|"),
    ]
    .into_iter()
    .chain(definitions.iter().map(|d| {
        organization
            .custom
            .get(&d.key)
            .map(text_value)
            .unwrap_or_default()
    }))
    .collect()
}

fn csv_line(cells: &[String], out: &mut csv::Writer<Vec<u8>>) -> std::io::Result<()> {
    out.write_record(cells.iter().map(|cell| export_cell(cell).into_owned()))
        .map_err(std::io::Error::other)
}

/// Where an export stands between two chunks.
enum ExportState {
    Start {
        store: Store,
        tenant: TenantId,
        entity: Entity,
    },
    Paging {
        tx: Box<TenantTx>,
        entity: Entity,
        definitions: Vec<FieldDefinition>,
        after: Option<store::keyset::After>,
    },
    Done,
}

/// The tenant's users or organizations as CSV, oldest first, produced page by page inside
/// one read transaction: the body of a download that never holds the whole directory.
pub fn export(
    store: Store,
    tenant: TenantId,
    entity: Entity,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(
        ExportState::Start {
            store,
            tenant,
            entity,
        },
        |state| async move {
            match export_step(state).await {
                Ok(Some((chunk, next))) => Some((Ok(chunk), next)),
                Ok(None) => None,
                Err(error) => {
                    tracing::error!(error = %error, "export failed");
                    Some((Err(error), ExportState::Done))
                }
            }
        },
    )
}

async fn export_step(state: ExportState) -> std::io::Result<Option<(Bytes, ExportState)>> {
    let io = std::io::Error::other;
    match state {
        ExportState::Done => Ok(None),
        ExportState::Start {
            store,
            tenant,
            entity,
        } => {
            let mut tx = store.begin_tenant(tenant).await.map_err(io)?;
            let definitions = store::custom_fields::active(&mut tx, entity.field_entity())
                .await
                .map_err(io)?;
            let mut out = csv::Writer::from_writer(Vec::new());
            csv_line(&export_header(entity, &definitions), &mut out)?;
            let chunk = out
                .into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            Ok(Some((
                Bytes::from(chunk),
                ExportState::Paging {
                    tx: Box::new(tx),
                    entity,
                    definitions,
                    after: None,
                },
            )))
        }
        ExportState::Paging {
            mut tx,
            entity,
            definitions,
            after,
        } => {
            let mut out = csv::Writer::from_writer(Vec::new());
            let next = match entity {
                Entity::Users => {
                    let query = UserQuery {
                        sort: UserSort::Created,
                        after,
                        limit: EXPORT_PAGE,
                        ..UserQuery::default()
                    };
                    let page = store::user_directory::list(&mut tx, &query)
                        .await
                        .map_err(io)?;
                    for record in page.items.iter().filter(|r| r.erased_at.is_none()) {
                        csv_line(&user_cells(record, &definitions), &mut out)?;
                    }
                    page.next
                }
                Entity::Organizations => {
                    let query = ListQuery {
                        search: None,
                        validity: None,
                        custom: None,
                        sort: Sort::Created,
                        descending: false,
                        after,
                        limit: EXPORT_PAGE,
                    };
                    let page = store::organizations::list(&mut tx, &query)
                        .await
                        .map_err(io)?;
                    for organization in &page.items {
                        csv_line(&organization_cells(organization, &definitions), &mut out)?;
                    }
                    page.next
                }
            };
            let chunk = Bytes::from(
                out.into_inner()
                    .map_err(|e| std::io::Error::other(e.to_string()))?,
            );
            let state = match next {
                Some(after) => ExportState::Paging {
                    tx,
                    entity,
                    definitions,
                    after: Some(after),
                },
                None => {
                    tx.commit().await.map_err(io)?;
                    ExportState::Done
                }
            };
            Ok(Some((chunk, state)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn columns_match_by_name_ignoring_case_and_space() {
        let layout = layout(
            Entity::Users,
            &headers(&[" Email", "FIRST_NAME", "last_name", "organization"]),
            &[],
        )
        .expect("a good header");
        assert_eq!(layout.columns[0], Column::Fixed("email"));
        assert!(layout.columns.contains(&Column::Fixed("organization")));
    }

    #[test]
    fn a_header_names_missing_unknown_and_repeated_columns() {
        let problem = layout(
            Entity::Users,
            &headers(&["email", "email", "shoe_size", ""]),
            &[],
        )
        .expect_err("a bad header");
        let FileProblem::Columns {
            missing,
            unknown,
            duplicate,
        } = &problem
        else {
            panic!("{problem:?}");
        };
        assert_eq!(missing, &["first_name", "last_name"]);
        assert_eq!(unknown, &["shoe_size", "(column 4 has no name)"]);
        assert_eq!(duplicate, &["email"]);
        assert!(problem.to_string().contains("required columns are missing"));
    }

    #[test]
    fn formula_like_cells_are_quoted_on_export_and_unquoted_on_import() {
        for value in ["=SUM(A1)", "@cmd", "+1+cmd|' /C calc'!A0", "-x"] {
            let exported = export_cell(value);
            assert!(exported.starts_with('\''), "{value}");
            assert_eq!(import_cell(&exported), value);
        }
        for value in ["+49 30 1234-567", "-5", "Ada", "'quoted"] {
            assert_eq!(export_cell(value), value);
            assert_eq!(import_cell(value), value);
        }
    }

    #[test]
    fn entities_and_modes_parse_by_their_names() {
        assert_eq!(Entity::parse("orgs"), Some(Entity::Organizations));
        assert_eq!(Entity::parse("users"), Some(Entity::Users));
        assert_eq!(Entity::parse("tickets"), None);
        for mode in [Mode::DryRun, Mode::AllOrNothing, Mode::SkipBadRows] {
            assert_eq!(Mode::parse(mode.as_str()), Some(mode));
        }
    }
}
