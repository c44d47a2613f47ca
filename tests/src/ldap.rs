//! A real LDAP directory for the sign-in tests: a private slapd (Debian's `slapd` package) on a
//! free loopback port, configured from a generated slapd.conf with an mdb database loaded from
//! `tests/ldap/seed.ldif` by slapadd before it starts, listening on `ldap://` (StartTLS offered)
//! and `ldaps://` with a self-signed certificate made by openssl for the run. One directory
//! serves the whole run: the tests only read it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use tenantdesk::kept_child::KeptChild;

use crate::programs::{scratch_dir, wait_for, which};

const INSTALL: &str = "sudo apt-get install -y slapd ldap-utils";

pub const BASE_DN: &str = "dc=example,dc=test";
/// The service account providers bind as to search.
pub const SERVICE_DN: &str = "cn=tenantdesk,ou=services,dc=example,dc=test";
pub const SERVICE_PASSWORD: &str = "service-secret";
/// Members by DN (`member`): alice only.
pub const GROUP_DN: &str = "cn=helpdesk,ou=groups,dc=example,dc=test";
/// Members by login (`memberUid`): alice only.
pub const POSIX_GROUP_DN: &str = "cn=helpdesk-posix,ou=groups,dc=example,dc=test";
pub const ALICE_DN: &str = "uid=alice,ou=people,dc=example,dc=test";
pub const ALICE_PASSWORD: &str = "alice-secret";
pub const BOB_DN: &str = "uid=bob,ou=people,dc=example,dc=test";
pub const BOB_PASSWORD: &str = "bob-secret";
/// Two entries (people and contractors) share this uid.
pub const AMBIGUOUS_LOGIN: &str = "dana";

pub struct Directory {
    pub port: u16,
    pub tls_port: u16,
    /// The run's private CA (PEM) that signed the certificate the directory presents.
    pub certificate_pem: String,
    _child: KeptChild,
}

impl Directory {
    /// `ldap://127.0.0.1:PORT` (plain, or upgraded with StartTLS).
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// `ldaps://127.0.0.1:PORT`.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls_port)
    }
}

/// The run's directory, started on first use.
pub fn directory() -> &'static Directory {
    static DIRECTORY: OnceLock<Directory> = OnceLock::new();
    DIRECTORY.get_or_init(start)
}

/// An `ldap://` URL where nothing listens: the port was free a moment ago and is closed again.
pub fn closed_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    format!("ldap://127.0.0.1:{port}")
}

/// A directory that accepts connections and never answers (a hung server): the listener is
/// kept open but never accepts, so the kernel completes the handshake and nothing replies.
pub struct Silent {
    listener: std::net::TcpListener,
}

impl Silent {
    pub fn start() -> Self {
        Self {
            listener: std::net::TcpListener::bind("127.0.0.1:0").expect("port"),
        }
    }

    pub fn url(&self) -> String {
        let port = self.listener.local_addr().expect("addr").port();
        format!("ldap://127.0.0.1:{port}")
    }
}

/// Debian installs slapd and slapadd in /usr/sbin, which is not on an ordinary user's PATH.
fn sbin_program(program: &str) -> PathBuf {
    which(program)
        .or_else(|| Some(Path::new("/usr/sbin").join(program)).filter(|path| path.is_file()))
        .unwrap_or_else(|| {
            panic!("the LDAP tests need `{program}`, which is not installed. Install it with: {INSTALL}")
        })
}

/// Debian's loadable backends and schema files.
const MODULE_DIRS: [&str; 3] = [
    "/usr/lib/ldap",
    "/usr/lib/x86_64-linux-gnu/ldap",
    "/usr/lib/aarch64-linux-gnu/ldap",
];
const SCHEMA_DIR: &str = "/etc/ldap/schema";

fn start() -> Directory {
    let slapd = sbin_program("slapd");
    let slapadd = sbin_program("slapadd");
    let module_dir = MODULE_DIRS
        .iter()
        .map(Path::new)
        .find(|dir| dir.join("back_mdb.la").is_file() || dir.join("back_mdb.so").is_file());
    let dir = scratch_dir("ldap");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("creating the slapd data directory");
    let certificate_pem = make_certificate(&dir);
    let config = dir.join("slapd.conf");
    std::fs::write(&config, slapd_conf(&dir, module_dir)).expect("writing slapd.conf");

    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("ldap/seed.ldif");
    let loaded = Command::new(slapadd)
        .arg("-f")
        .arg(&config)
        .arg("-l")
        .arg(&seed)
        .stdout(Stdio::null())
        .output()
        .expect("running slapadd");
    assert!(
        loaded.status.success(),
        "slapadd could not load {}: {}",
        seed.display(),
        String::from_utf8_lossy(&loaded.stderr)
    );

    let (port, tls_port) = (free_port(), free_port());
    let mut command = Command::new(slapd);
    // -d keeps slapd in the foreground (so it stays our child); level 0 logs nothing.
    command
        .arg("-f")
        .arg(&config)
        .arg("-h")
        .arg(format!(
            "ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"
        ))
        .args(["-d", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = KeptChild::spawn(command).expect("starting slapd");
    wait_for("slapd", &child, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_ok()
    });
    Directory {
        port,
        tls_port,
        certificate_pem,
        _child: child,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

/// A self-signed certificate for 127.0.0.1 (`cert.pem`, `key.pem` in `dir`); returns the PEM.
/// A private CA for this run and the directory's certificate signed by it (for 127.0.0.1);
/// answers the CA's PEM, which a provider's `ca_certificate_pem` may trust.
fn make_certificate(dir: &Path) -> String {
    let openssl = which("openssl").unwrap_or_else(|| {
        panic!("the LDAP tests need `openssl`, which is not installed. Install it with: sudo apt-get install -y openssl")
    });
    let run = |args: &[&str]| {
        let made = Command::new(&openssl)
            .current_dir(dir)
            .args(args)
            .stdout(Stdio::null())
            .output()
            .expect("running openssl");
        assert!(
            made.status.success(),
            "openssl {args:?} could not make the directory's certificates: {}",
            String::from_utf8_lossy(&made.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Tenantdesk test CA",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "cert.csr",
    ]);
    std::fs::write(
        dir.join("cert.ext"),
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("writing the certificate extensions");
    run(&[
        "x509",
        "-req",
        "-in",
        "cert.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "cert.ext",
        "-out",
        "cert.pem",
    ]);
    std::fs::read_to_string(dir.join("ca.pem")).expect("reading the CA certificate")
}

fn slapd_conf(dir: &Path, module_dir: Option<&Path>) -> String {
    let dir = dir.display();
    let modules = match module_dir {
        Some(module_dir) => format!("modulepath {}\nmoduleload back_mdb\n", module_dir.display()),
        // Built in (not a Debian build).
        None => String::new(),
    };
    format!(
        "include {SCHEMA_DIR}/core.schema
include {SCHEMA_DIR}/cosine.schema
include {SCHEMA_DIR}/nis.schema
include {SCHEMA_DIR}/inetorgperson.schema
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
TLSCertificateFile {dir}/cert.pem
TLSCertificateKeyFile {dir}/key.pem
{modules}
database mdb
maxsize 10485760
suffix \"{BASE_DN}\"
rootdn \"cn=admin,{BASE_DN}\"
rootpw admin-secret
directory {dir}/data
# Passwords: only for binding as oneself, never readable.
access to attrs=userPassword by anonymous auth by * none
access to * by * read
"
    )
}
