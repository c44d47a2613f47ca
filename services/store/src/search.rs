//! The directory's search terms: what a person types, turned into the ILIKE pattern the
//! `directory` schema's search functions take.

/// A case-insensitive substring pattern for `term`, with `*` as a wildcard as in OTRS:
/// `%`, `_` and `\` match themselves, `*` matches any run of characters, and the whole term
/// may appear anywhere ("ada*lace" finds "Ada Lovelace" and "Grenada Place").
pub fn like_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.trim().chars() {
        match c {
            '%' | '_' | '\\' => {
                pattern.push('\\');
                pattern.push(c);
            }
            '*' => pattern.push('%'),
            _ => pattern.push(c),
        }
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn stars_are_wildcards_and_like_characters_are_literal() {
        assert_eq!(like_pattern("ada"), "%ada%");
        assert_eq!(like_pattern(" ada*lace "), "%ada%lace%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("*"), "%%%");
    }
}
