# Sourced by deploy/run-local.sh and tests/run.sh: installs the Debian/Ubuntu packages a
# command needs when their programs are missing, or says exactly which apt-get line to run.

# ensure_packages "program:package" ...
ensure_packages() {
  local missing=() pair program package
  for pair in "$@"; do
    program="${pair%%:*}"
    package="${pair#*:}"
    if ! have_program "$program"; then
      missing+=("$package")
    fi
  done
  [ "${#missing[@]}" -eq 0 ] && return 0

  local line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    echo "Installing missing packages: ${missing[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "Installing missing packages with sudo: ${missing[*]}" >&2
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "Missing packages: ${missing[*]}. Install them with:" >&2
    echo "  sudo sh -c '$line'" >&2
    return 1
  fi
}

# PostgreSQL's server programs live outside PATH on Debian (/usr/lib/postgresql/N/bin).
have_program() {
  case "$1" in
    initdb) command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ;;
    # The test SMTP server runs on Debian's Python with Debian's aiosmtpd.
    aiosmtpd) /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}
