//! Lock names, interned.

use std::borrow::Cow;

use crate::raw::Mutex;
use rustc_hash::FxHashSet;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_interned_once() {
        let first = intern(Cow::Owned("interned:name".to_owned()));
        let second = intern(Cow::Owned("interned:name".to_owned()));
        assert!(std::ptr::eq(first, second));
    }
}
