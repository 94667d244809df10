//! A finding found live, reported: the policy decides (`policy::decide`), the runtime records
//! it into a running recording and carries the decision out. The policy never calls back here.

use crate::finding::Finding;
use crate::policy::{self, Policy};

/// Hands a finding to the policy and acts on its decision. Must be called with no
/// lockscan-internal lock held and no thread state borrowed, because it may panic and run user
/// code.
///
/// `#[track_caller]` here and in every function of the runtime between the user's acquisition
/// and this call (no closure in between: `#[track_caller]` does not reach into closures), so
/// that the panic of the `panic` policy is located at the user's line, where the default panic
/// hook and libtest show it, not in this file.
#[track_caller]
pub(crate) fn report(finding: Finding) {
    report_as(finding, false);
}

/// [`report`], for a finding that stops the thread (`fatal`) or not.
#[track_caller]
fn report_as(mut finding: Finding, fatal: bool) {
    if !policy::is_new(&finding) {
        return;
    }
    super::add_stack(&mut finding);
    let decision = policy::decide(&finding);
    // Into a running recording whatever the policy, so that the trace's analysis reports
    // everything the run reported: the events may not show a finding (a thread that stops
    // unwinds before it blocks), and the replay reports a recorded one it does not find again.
    super::record_finding(&finding);
    match decision {
        // The report first, so that its `error[kind]: ...` line starts the panic message (the
        // default hook puts the message on a line of its own, after `panicked at SITE:`).
        Policy::Panic => panic!("{finding}{}", policy::ending(finding.kind, fatal)),
        Policy::Warn => policy::warn(&finding, fatal),
        Policy::Collect => {}
    }
}

// Only the instrumented runtime finds deadlocks live.
#[cfg_attr(not(lockscan_active), allow(dead_code))]
/// Reports a finding after which the thread cannot go on (the lock it wants will never be
/// free), then unwinds it whatever the policy, so the program ends instead of hanging.
#[track_caller]
pub(crate) fn report_fatal(mut finding: Finding) -> ! {
    super::add_stack(&mut finding);
    let text = finding.to_string();
    let kind = finding.kind;
    report_as(finding, true);
    panic!("{text}{}", policy::ending(kind, true));
}
