//! The demo tenants a fresh embedded installation starts with, each with an Admin agent whose
//! password is printed once.

use domain::{BuiltinRole, EmailAddress, HexColour, TenantName, TenantSlug};
use rand::Rng;
use store::Owner;
use store::agents::NewAgent;
use store::tenancy::NewTenant;
use web::auth::passwords::Passwords;

/// (slug, name, primary colour, accent colour)
const DEMO_TENANTS: &[(&str, &str, &str, &str)] = &[
    ("acme", "Acme Corp", "#c2410c", "#7c2d12"),
    ("globex", "Globex", "#15803d", "#14532d"),
];

/// A demo admin's way in, to be shown once.
pub struct DemoLogin {
    pub slug: String,
    pub email: String,
    pub password: String,
}

/// 18 characters from an unambiguous alphabet: about 104 bits.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..18)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

pub async fn seed(owner: &Owner) -> anyhow::Result<Vec<DemoLogin>> {
    let passwords = Passwords::new(1);
    let mut logins = Vec::new();
    for (slug, name, primary, accent) in DEMO_TENANTS {
        let new = NewTenant {
            slug: TenantSlug::parse(slug)?,
            name: TenantName::parse(name)?,
            primary_colour: Some(HexColour::parse(primary)?),
            accent_colour: Some(HexColour::parse(accent)?),
        };
        if owner.tenant_by_slug(&new.slug).await?.is_some() {
            continue;
        }
        let tenant = owner.create_tenant(&new).await?;
        let email = EmailAddress::parse(&format!("admin@{slug}.example"))?;
        let password = random_password();
        let mut tx = owner.begin_tenant(tenant.id).await?;
        let role = store::agents::builtin_role(&mut tx, BuiltinRole::Admin).await?;
        let hash = passwords.hash(&password).await?;
        store::agents::create(
            &mut tx,
            &NewAgent {
                name: "Demo Admin",
                email: &email,
                role_id: role.id,
                password_hash: Some(hash),
            },
        )
        .await?;
        seed_directory(&mut tx, slug).await?;
        tx.commit().await?;
        tracing::info!(tenant.slug = slug, "created demo tenant");
        logins.push(DemoLogin {
            slug: (*slug).to_owned(),
            email: email.to_string(),
            password,
        });
    }
    Ok(logins)
}

/// A demo organization with an email domain, and a few customers (those at the domain become
/// its members by the domain rule), so the directory has something to search.
async fn seed_directory(tx: &mut store::TenantTx, slug: &str) -> anyhow::Result<()> {
    use store::organizations::{EmailDomain, OrganizationChange, OrganizationName};
    use store::user_directory::{Actor, Profile};
    let domain = format!("customers.{slug}.example");
    let name = OrganizationName::parse("Example Customers Ltd").map_err(anyhow::Error::msg)?;
    let change = OrganizationChange {
        domains: Some(vec![
            EmailDomain::parse(&domain).map_err(anyhow::Error::msg)?,
        ]),
        ..Default::default()
    };
    store::organizations::create(tx, &name, &change, None).await?;
    for (first, last, at, city) in [
        ("Ada", "Lovelace", domain.as_str(), "London"),
        ("Grace", "Hopper", domain.as_str(), "New York"),
        ("Alan", "Turing", "example.org", "Manchester"),
        ("Katherine", "Johnson", "example.net", "Hampton"),
    ] {
        let profile = Profile {
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            email: format!("{}@{at}", first.to_lowercase()),
            city: Some(city.to_owned()),
            ..Default::default()
        };
        store::user_directory::create(tx, &profile, Actor::System).await?;
    }
    Ok(())
}
