//! Tenantdesk's domain types: values that are valid by construction, with no I/O.

pub mod business_hours;
mod colour;
pub mod custom_fields;
mod directory;
mod email;
mod host;
mod permission;
mod settings;
mod tenant;
pub mod ticket;
pub mod ticket_filter;
mod username;

pub use colour::{HexColour, InvalidColour};
pub use directory::{
    CountryCode, InvalidCountry, InvalidPhoneNumber, InvalidValidity, PhoneNumber, Validity,
    bounded_text, required_text,
};
pub use email::{EmailAddress, InvalidEmail};
pub use host::{BaseUrl, Host, InvalidBaseUrl, InvalidHost};
pub use permission::{BuiltinRole, Permission};
pub use settings::{
    InvalidLocale, InvalidRegistrationMethod, InvalidTimeZone, InvalidWebUrl, InvalidWelcomeText,
    Locale, RegistrationMethod, TimeZoneName, WebUrl, WelcomeText,
};
pub use tenant::{
    InvalidSlug, InvalidTenantName, InvalidTokenName, TenantId, TenantName, TenantSlug,
    TenantStatus, TextProblem, TokenName,
};
pub use username::{InvalidUsername, Username};
