//! `std::thread`'s spawns and joins order events as `lockscan::thread`'s do where lockscan sees
//! them (Linux with glibc, where it stands in front of `pthread_create` and `pthread_join`);
//! elsewhere, and for a thread started behind its back, a finding says that it did not see
//! the thread's spawn.

use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::Arc;

use lockscan::{Finding, FindingKind, Mutex, Tracked};

use crate::support::{findings_about, in_child, kinds_about, run_child, scratch_dir, setup};

/// Whether lockscan sees `std::thread`'s spawns and joins on this target.
const SEEN: bool = cfg!(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
));

/// What a finding's reason says of a thread whose spawn lockscan did not see.
const UNSEEN: &str = "lockscan does not see, so";

/// The data races reported on the variable `var`.
fn races_on(var: &str) -> Vec<Finding> {
    lockscan::findings()
        .into_iter()
        .filter(|f| f.kind == FindingKind::DataRace && f.vars.iter().any(|v| v.var == var))
        .collect()
}

/// No race on `var` where lockscan sees std's threads; elsewhere, the races it reports
/// because it does not, which say why.
fn assert_ordered_by_std_threads(var: &str) {
    let races = races_on(var);
    if SEEN {
        assert_eq!(races, [], "ordered by the spawn and the join");
    } else {
        assert!(!races.is_empty());
        for race in &races {
            assert!(race.reason.contains(UNSEEN), "{}", race.reason);
        }
    }
}

#[test]
fn a_value_set_before_a_std_spawn_and_read_after_its_join_does_not_race() {
    setup();
    let c = Arc::new(Tracked::named("std:joined", 0));
    c.set(1);
    let c2 = c.clone();
    let h = std::thread::spawn(move || c2.update(|v| *v += 1));
    h.join().unwrap();
    assert_eq!(c.get(), 2);
    assert_ordered_by_std_threads("std:joined");
}

#[test]
fn a_value_read_before_the_std_thread_that_wrote_it_is_joined_races() {
    setup();
    let c = Arc::new(Tracked::named("std:not-joined", 0));
    c.set(1);
    let c2 = c.clone();
    let h = std::thread::spawn(move || c2.update(|v| *v += 1));
    // The thread has ended, but nothing lockscan sees says so: `is_finished` is no join.
    while !h.is_finished() {
        std::thread::yield_now();
    }
    assert_eq!(c.get(), 2);
    let races = races_on("std:not-joined");
    if SEEN {
        assert_eq!(races.len(), 1, "the read after the write: {races:#?}");
    }
    let race = races
        .iter()
        .find(|r| r.vars.iter().any(|v| !v.write))
        .expect("the read after the thread's write races");
    assert!(race.vars.iter().any(|v| v.write), "{race:#?}");
    assert_eq!(race.reason.contains(UNSEEN), !SEEN, "{}", race.reason);
    let help = race.help.as_deref().unwrap();
    assert!(help.contains("a join"), "{help}");
    h.join().unwrap();
}

#[test]
fn a_std_builder_thread_is_ordered_and_named_in_races() {
    setup();
    let c = Arc::new(Tracked::named("std:builder", 0));
    c.set(1);
    let spawn = |c: Arc<Tracked<i32>>| {
        std::thread::Builder::new()
            .name("std-builder".into())
            .stack_size(256 * 1024)
            .spawn(move || c.update(|v| *v += 1))
            .unwrap()
    };
    spawn(c.clone()).join().unwrap();
    assert_eq!(c.get(), 2);
    assert_ordered_by_std_threads("std:builder");
    // Unordered this time: written by the thread while this one writes.
    let unjoined = spawn(c.clone());
    while !unjoined.is_finished() {
        std::thread::yield_now();
    }
    c.set(0);
    unjoined.join().unwrap();
    let races = races_on("std:builder");
    assert!(
        races
            .iter()
            .any(|r| r.threads.contains(&"std-builder".to_owned())),
        "{races:#?}"
    );
}

#[test]
fn a_std_scope_thread_joined_explicitly_is_ordered() {
    setup();
    let x = Tracked::named("std:scope-joined", 0);
    x.set(1);
    std::thread::scope(|s| {
        let h = s.spawn(|| x.update(|v| *v += 1));
        h.join().unwrap();
        x.update(|v| *v += 1);
    });
    assert_eq!(x.get(), 3);
    assert_ordered_by_std_threads("std:scope-joined");
}

/// A known limit: `std::thread::scope` waits for its threads at its end on a counter, not a
/// join lockscan sees, so what a thread that was not joined explicitly did is unordered with
/// what follows the scope. The help says what to do.
#[test]
fn the_implicit_join_at_the_end_of_a_std_scope_is_not_seen_and_the_help_says_so() {
    setup();
    let x = Tracked::named("std:scope-implicit", 0);
    x.set(1);
    std::thread::scope(|s| {
        s.spawn(|| x.update(|v| *v += 1));
    });
    assert_eq!(x.get(), 2);
    let races = races_on("std:scope-implicit");
    if SEEN {
        assert_eq!(races.len(), 1, "the read after the scope: {races:#?}");
    }
    let help = races[0].help.as_deref().unwrap();
    assert!(
        help.contains("`std::thread::scope`") && help.contains("`lockscan::thread::scope`"),
        "{help}"
    );
}

/// A thread pool's shape: a thread that spawns and joins the workers, which the test's thread
/// spawns and joins.
#[test]
fn threads_spawned_by_a_spawned_thread_are_ordered_like_a_pool() {
    setup();
    const SLOTS: [&str; 4] = [
        "std:pool-slot-0",
        "std:pool-slot-1",
        "std:pool-slot-2",
        "std:pool-slot-3",
    ];
    let input = Arc::new(Tracked::named("std:pool-input", 0));
    let slots: Arc<Vec<Tracked<i32>>> =
        Arc::new(SLOTS.iter().map(|name| Tracked::named(*name, 0)).collect());
    let total = Arc::new(Tracked::named("std:pool-total", 0));
    input.set(10);
    let pool = {
        let (input, slots, total) = (input.clone(), slots.clone(), total.clone());
        std::thread::spawn(move || {
            let workers: Vec<_> = (0..SLOTS.len())
                .map(|i| {
                    let (input, slots) = (input.clone(), slots.clone());
                    std::thread::spawn(move || slots[i].set(input.get() + i as i32))
                })
                .collect();
            for worker in workers {
                worker.join().unwrap();
            }
            total.set(slots.iter().map(Tracked::get).sum());
        })
    };
    pool.join().unwrap();
    input.set(0);
    slots[0].set(0);
    assert_eq!(total.get(), 46);
    let races: Vec<Finding> = lockscan::findings()
        .into_iter()
        .filter(|f| {
            f.kind == FindingKind::DataRace && f.vars.iter().any(|v| v.var.starts_with("std:pool-"))
        })
        .collect();
    if SEEN {
        assert_eq!(races, [], "{races:#?}");
    } else {
        assert!(
            races.iter().all(|r| r.reason.contains(UNSEEN)),
            "{races:#?}"
        );
    }
}

#[test]
fn a_cycle_between_a_parent_and_a_std_thread_it_joined_is_an_inversion() {
    setup();
    let a = Arc::new(Mutex::named("std-join:A", ()));
    let b = Arc::new(Mutex::named("std-join:B", ()));
    let (a2, b2) = (a.clone(), b.clone());
    std::thread::spawn(move || {
        let _a = a2.lock();
        let _b = b2.lock();
    })
    .join()
    .unwrap();
    {
        let _b = b.lock();
        let _a = a.lock();
    }
    let found = findings_about(&["std-join:A", "std-join:B"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    if SEEN {
        // As with `lockscan::thread` (cycles::orders_separated_by_a_lockscan_join_are_...).
        assert_eq!(found[0].kind, FindingKind::LockOrderInversion);
        assert!(
            found[0].reason.contains("spawn or join"),
            "{}",
            found[0].reason
        );
    } else {
        assert_eq!(found[0].kind, FindingKind::PotentialDeadlock);
        assert!(found[0].reason.contains(UNSEEN), "{}", found[0].reason);
    }
}

#[test]
fn a_cycle_between_a_parent_and_a_std_thread_it_spawned_after_is_an_inversion() {
    setup();
    let a = Arc::new(Mutex::named("std-spawn:A", ()));
    let b = Arc::new(Mutex::named("std-spawn:B", ()));
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    let (a2, b2) = (a.clone(), b.clone());
    std::thread::spawn(move || {
        let _b = b2.lock();
        let _a = a2.lock();
    })
    .join()
    .unwrap();
    let expected = if SEEN {
        FindingKind::LockOrderInversion
    } else {
        FindingKind::PotentialDeadlock
    };
    assert_eq!(kinds_about(&["std-spawn:A", "std-spawn:B"]), [expected]);
}

/// Runs `f` on a thread started behind lockscan's back (the C library's `pthread_create`
/// called directly, where lockscan stands in front of it; std's elsewhere), and waits for it.
fn behind_lockscans_back(f: impl FnOnce() + Send + 'static) {
    if !SEEN {
        std::thread::spawn(f).join().unwrap();
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        type Start = extern "C" fn(*mut c_void) -> *mut c_void;
        type Create = unsafe extern "C" fn(
            *mut libc::pthread_t,
            *const libc::pthread_attr_t,
            Start,
            *mut c_void,
        ) -> libc::c_int;
        extern "C" fn run(f: *mut c_void) -> *mut c_void {
            // SAFETY: the box made below, handed to this thread only.
            let f = unsafe { Box::from_raw(f.cast::<Box<dyn FnOnce() + Send>>()) };
            f();
            std::ptr::null_mut()
        }
        let f: Box<Box<dyn FnOnce() + Send>> = Box::new(Box::new(f));
        // SAFETY: looks up the C library's `pthread_create` (the next one after this binary's),
        // which has the type `Create`.
        let create: Create = unsafe {
            std::mem::transmute::<*mut c_void, Create>(libc::dlsym(
                libc::RTLD_NEXT,
                c"pthread_create".as_ptr(),
            ))
        };
        let mut thread: libc::pthread_t = 0;
        // SAFETY: a default-attribute thread that runs `run` on the box, which it takes.
        let created =
            unsafe { create(&mut thread, std::ptr::null(), run, Box::into_raw(f).cast()) };
        assert_eq!(created, 0);
        // SAFETY: the joinable thread just created, joined once.
        let joined = unsafe { libc::pthread_join(thread, std::ptr::null_mut()) };
        assert_eq!(joined, 0);
    }
}

#[test]
fn a_race_with_a_thread_started_behind_lockscans_back_says_so() {
    setup();
    let x = Arc::new(Tracked::named("std:unseen", 0));
    x.set(1);
    let x2 = x.clone();
    behind_lockscans_back(move || x2.update(|v| *v += 1));
    assert_eq!(x.get(), 2);
    let races = races_on("std:unseen");
    assert!(!races.is_empty(), "neither its spawn nor its join is seen");
    for race in &races {
        assert!(race.reason.contains(UNSEEN), "{}", race.reason);
        assert!(
            race.reason.contains("`lockscan::thread`"),
            "{}",
            race.reason
        );
    }
}

#[test]
fn a_cycle_with_a_thread_started_behind_lockscans_back_says_so() {
    setup();
    let a = Arc::new(Mutex::named("std-unseen:A", ()));
    let b = Arc::new(Mutex::named("std-unseen:B", ()));
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    let (a2, b2) = (a.clone(), b.clone());
    behind_lockscans_back(move || {
        let _b = b2.lock();
        let _a = a2.lock();
    });
    let found = findings_about(&["std-unseen:A", "std-unseen:B"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::PotentialDeadlock);
    assert!(found[0].reason.contains(UNSEEN), "{}", found[0].reason);
    // Where lockscan sees std's threads, one thread is named: the one started behind its
    // back, not this test's.
    let this = std::thread::current().name().unwrap().to_owned();
    assert!(
        !SEEN || !found[0].reason.contains(&format!("`{this}`")),
        "{}",
        found[0].reason
    );
}

/// A C start routine may end its thread with `pthread_exit`, whose forced unwinding passes
/// through lockscan's start routine: the thread ends, the join returns, and lockscan carries on
/// (it saw the spawn, not the end: the join orders nothing).
#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
#[test]
fn a_thread_that_ends_with_pthread_exit_is_joined_as_usual() {
    setup();
    extern "C-unwind" fn exits(value: *mut c_void) -> *mut c_void {
        // SAFETY: ends this thread, which has no frame to unwind with anything to drop.
        unsafe { libc::pthread_exit(value) }
    }
    type Start = extern "C" fn(*mut c_void) -> *mut c_void;
    // SAFETY: the same ABI but for unwinding, which `pthread_exit` does by force only.
    let start = unsafe {
        std::mem::transmute::<extern "C-unwind" fn(*mut c_void) -> *mut c_void, Start>(exits)
    };
    let mut thread: libc::pthread_t = 0;
    let mut value = std::ptr::null_mut();
    // SAFETY: a default-attribute thread; `exits` ignores what its argument points to.
    let created = unsafe { libc::pthread_create(&mut thread, std::ptr::null(), start, 7 as _) };
    assert_eq!(created, 0);
    // SAFETY: the joinable thread just created, joined once.
    let joined = unsafe { libc::pthread_join(thread, &mut value) };
    assert_eq!((joined, value as usize), (0, 7));
    // lockscan still works on this thread.
    let x = Tracked::named("std:after-exit", 0);
    x.set(1);
    assert_eq!(races_on("std:after-exit"), []);
}

/// What a thread spawned before `main` computed (0: it did not run).
#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
static BEFORE_MAIN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A constructor, run before std's `main` set anything up: it spawns and joins a std thread
/// through lockscan's `pthread_create`, as a C library's constructor might. (No lockscan
/// operation: it would start the recording of the child processes of this binary's tests.)
#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
#[used]
#[unsafe(link_section = ".init_array")]
static SPAWNS_BEFORE_MAIN: extern "C" fn() = {
    extern "C" fn spawn_before_main() {
        if let Ok(value) = std::thread::spawn(|| 6 * 7).join() {
            BEFORE_MAIN.store(value, std::sync::atomic::Ordering::SeqCst);
        }
    }
    spawn_before_main
};

#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
#[test]
fn a_std_thread_can_be_spawned_before_main() {
    assert_eq!(BEFORE_MAIN.load(std::sync::atomic::Ordering::SeqCst), 42);
}

/// The C library's `pthread_create` that the program calls is this binary's, which lockscan
/// defines: it is linked in and comes first.
#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
#[test]
fn the_programs_pthread_create_is_lockscans() {
    for (name, address) in [
        ("pthread_create", libc::pthread_create as *const ()),
        ("pthread_join", libc::pthread_join as *const ()),
        ("pthread_detach", libc::pthread_detach as *const ()),
    ] {
        // SAFETY: a zeroed `Dl_info` is valid to be filled by `dladdr`.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        // SAFETY: `address` is a function's, `info` writable.
        assert_ne!(unsafe { libc::dladdr(address.cast(), &mut info) }, 0);
        // SAFETY: `dladdr` set it to a C string of the object that holds the address.
        let object = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
        let object = object.to_string_lossy();
        assert!(!object.contains("libc.so"), "{name} is in {object}");
        let exe = std::env::current_exe().unwrap();
        let exe_name = exe.file_name().unwrap().to_string_lossy();
        assert!(
            object.ends_with(&*exe_name),
            "{name} is in {object}, not {exe_name}"
        );
    }
}

const TRACE: &str = "LOCKSCAN_TEST_STD_THREADS_TRACE";

/// The findings about this scenario's locks and variables, as whole reports, sorted.
fn scenario_reports(findings: &[Finding]) -> Vec<String> {
    let mut reports: Vec<String> = findings
        .iter()
        .filter(|f| {
            f.locks.iter().any(|l| l.starts_with("stdrt:"))
                || f.vars.iter().any(|v| v.var.starts_with("stdrt:"))
        })
        .map(ToString::to_string)
        .collect();
    reports.sort();
    reports
}

#[test]
#[ignore = "a scenario that the std-thread round trip runs in a child process"]
fn child_records_std_threads() {
    assert!(in_child(), "run by the round trip");
    lockscan::set_policy(lockscan::Policy::Collect);
    let path = PathBuf::from(std::env::var_os(TRACE).unwrap());
    let recording = lockscan::record::start(&path).unwrap();
    // Ordered by a std spawn and join: no race.
    let joined = Arc::new(Tracked::named("stdrt:joined", 0));
    joined.set(1);
    let j = joined.clone();
    std::thread::spawn(move || j.update(|v| *v += 1))
        .join()
        .unwrap();
    joined.set(joined.get() + 1);
    // Read before the join: a race.
    let early = Arc::new(Tracked::named("stdrt:early", 0));
    let e = early.clone();
    let h = std::thread::Builder::new()
        .name("stdrt-worker".into())
        .spawn(move || e.set(1))
        .unwrap();
    while !h.is_finished() {
        std::thread::yield_now();
    }
    early.get();
    h.join().unwrap();
    // A cycle with a thread joined before: an inversion.
    let (a, b) = (
        Arc::new(Mutex::named("stdrt:A", ())),
        Arc::new(Mutex::named("stdrt:B", ())),
    );
    let (a2, b2) = (a.clone(), b.clone());
    std::thread::spawn(move || drop((a2.lock(), b2.lock())))
        .join()
        .unwrap();
    drop((b.lock(), a.lock()));
    // A `lockscan::thread`, counted once.
    lockscan::thread::spawn(|| ()).join().unwrap();
    // A race with a thread started behind lockscan's back: the reason says so.
    let unseen = Arc::new(Tracked::named("stdrt:unseen", 0));
    let u = unseen.clone();
    behind_lockscans_back(move || u.set(1));
    unseen.set(2);
    recording.finish().unwrap();
    let reports = scenario_reports(&lockscan::findings());
    std::fs::write(path.with_extension("live"), reports.join("\u{1e}")).unwrap();
}

/// The trace of a program with std threads has their spawns and joins, and its replay reports
/// what the live run reported, word for word.
#[test]
fn a_recording_of_std_threads_gives_the_live_findings_offline() {
    let dir_tmp = scratch_dir("std-threads-roundtrip");
    let path = dir_tmp.path().join("trace.json");
    let (ok, output) = run_child(
        "std_threads::child_records_std_threads",
        &[(TRACE, path.as_os_str())],
    );
    assert!(ok, "the child failed:\n{output}");
    let live_text = std::fs::read_to_string(path.with_extension("live")).unwrap();
    let live: Vec<&str> = live_text.split('\u{1e}').collect();
    let kinds: Vec<&str> = live
        .iter()
        .map(|r| r.split(']').next().unwrap_or(r))
        .collect();
    assert!(
        !SEEN || live.len() == 3,
        "two races and an inversion, live: {live:#?}"
    );
    assert!(
        kinds.iter().filter(|k| k.contains("data-race")).count() >= 2
            && kinds.iter().any(|k| k.contains(if SEEN {
                "lock-order-inversion"
            } else {
                "potential-deadlock"
            })),
        "{kinds:?}"
    );
    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let events: Vec<lockscan::trace::Event> = lockscan::trace::TraceReader::new(
        file,
        "trace.json".to_owned(),
        lockscan::trace::InputFormat::Auto,
    )
    .unwrap()
    .map(Result::unwrap)
    .collect();
    let count = |spawn: bool| {
        events
            .iter()
            .filter(|e| match e {
                lockscan::trace::Event::Spawn { .. } => spawn,
                lockscan::trace::Event::Join { .. } => !spawn,
                _ => false,
            })
            .count()
    };
    if SEEN {
        // Not the trace writer's, not the one started behind lockscan's back, and the
        // `lockscan::thread` once.
        assert_eq!(
            (count(true), count(false)),
            (4, 4),
            "three std threads and a lockscan one, spawned and joined"
        );
    }
    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let mut reader = lockscan::trace::TraceReader::new(
        file,
        "trace.json".to_owned(),
        lockscan::trace::InputFormat::Auto,
    )
    .unwrap();
    let result = lockscan::analysis::Replay::default().run(&mut reader, |e| panic!("{e}"));
    let offline = scenario_reports(&result.findings);
    assert_eq!(offline, live, "offline, then live");
}
