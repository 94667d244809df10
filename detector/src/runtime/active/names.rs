//! Lock names, interned.

use std::borrow::Cow;

use crate::raw::Mutex;
use rustc_hash::{FxHashMap, FxHashSet};

/// Lock names live as long as the program, one copy per distinct name: a lock's name must
/// outlive the lock, because reports about it can come later.
pub(crate) fn intern(name: Cow<'static, str>) -> &'static str {
    static NAMES: Mutex<Option<FxHashSet<&'static str>>> = Mutex::new(None);
    match name {
        Cow::Borrowed(name) => name,
        Cow::Owned(name) => {
            let mut names = NAMES.lock();
            let names = names.get_or_insert_with(FxHashSet::default);
            if let Some(&known) = names.get(name.as_str()) {
                return known;
            }
            let leaked: &'static str = Box::leak(name.into_boxed_str());
            names.insert(leaked);
            leaked
        }
    }
}

/// A name made while the program runs (the name a lock made from a `const` gets when it is first
/// taken), interned: one leaked `&str` per distinct name, behind a thin pointer that a lock can
/// keep in one atomic word.
pub(crate) fn intern_thin(name: String) -> &'static &'static str {
    static THIN: Mutex<Option<FxHashMap<&'static str, &'static &'static str>>> = Mutex::new(None);
    let mut names = THIN.lock();
    let names = names.get_or_insert_with(FxHashMap::default);
    if let Some(&known) = names.get(name.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    let thin: &'static &'static str = Box::leak(Box::new(leaked));
    names.insert(leaked, thin);
    thin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_interned_once() {
        let first = intern(Cow::Owned("interned:name".to_owned()));
        let second = intern(Cow::Owned("interned:name".to_owned()));
        assert!(std::ptr::eq(first, second));
        let first = intern_thin("interned:thin".to_owned());
        let second = intern_thin("interned:thin".to_owned());
        assert!(std::ptr::eq(first, second));
        assert_eq!(*first, "interned:thin");
    }
}
