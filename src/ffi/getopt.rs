//! glibc's own `getopt_long`, called through FFI so that argument permutation, clustering,
//! long-option abbreviations and every complaint on stderr are exactly glibc's
//! (docs/behaviour.md §2.1). getopt keeps its state in process globals, so one `Getopt` at a time
//! holds a global lock.

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::{Mutex, MutexGuard};

/// glibc's `struct option`.
#[repr(C)]
struct RawOption {
    name: *const c_char,
    has_arg: c_int,
    flag: *mut c_int,
    val: c_int,
}

extern "C" {
    fn getopt_long(
        argc: c_int,
        argv: *const *mut c_char,
        shortopts: *const c_char,
        longopts: *const RawOption,
        longind: *mut c_int,
    ) -> c_int;
    static mut optarg: *mut c_char;
    static mut optind: c_int;
    static mut opterr: c_int;
    static mut optopt: c_int;
}

/// Serialises every use of glibc's global getopt state within this process.
static GETOPT_LOCK: Mutex<()> = Mutex::new(());

/// One entry of the long-option table.
#[derive(Debug, Clone, Copy)]
pub struct LongOption {
    pub name: &'static CStr,
    pub takes_argument: bool,
    /// The short option it stands for (what `next` reports).
    pub short: u8,
}

/// One result of `getopt_long`: the option character (`b'?'` for glibc's complaints as well as
/// for a real `-?`) and its argument, if it takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub option: u8,
    pub argument: Option<Vec<u8>>,
    /// Where the argument lies in the caller's argv (original order, whatever glibc's
    /// permutation did): the index of the element and the byte offset of the argument in it
    /// (`-wPASS` → 2, `--password=PASS` → 11, `-w PASS` → 0 in the next element).
    pub argument_at: Option<(usize, usize)>,
}

/// A running `getopt_long` loop over an owned copy of argv.
pub struct Getopt {
    /// argv as C strings; the pointers in `argv` point into these.
    strings: Vec<CString>,
    /// argv[0..argc] plus a terminating null pointer; glibc permutes this array in place.
    argv: Vec<*mut c_char>,
    shortopts: CString,
    _long_names: Vec<CString>,
    /// The long options plus the all-zero terminator.
    longopts: Vec<RawOption>,
    _lock: MutexGuard<'static, ()>,
}

/// A C string from bytes; argv entries can hold no NUL, so anything after one is dropped.
fn c_string(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

impl Getopt {
    /// Prepares a fresh getopt run over `args` (argv[0] first). Messages name `args[0]`.
    pub fn new(args: &[Vec<u8>], shortopts: &str, longopts: &[LongOption]) -> Getopt {
        let lock = GETOPT_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let strings: Vec<CString> = args.iter().map(|a| c_string(a)).collect();
        let mut argv: Vec<*mut c_char> =
            strings.iter().map(|s| s.as_ptr() as *mut c_char).collect();
        argv.push(std::ptr::null_mut());
        let long_names: Vec<CString> = longopts.iter().map(|o| o.name.to_owned()).collect();
        let mut raw: Vec<RawOption> = longopts
            .iter()
            .zip(&long_names)
            .map(|(o, name)| RawOption {
                name: name.as_ptr(),
                has_arg: c_int::from(o.takes_argument),
                flag: std::ptr::null_mut(),
                val: c_int::from(o.short),
            })
            .collect();
        raw.push(RawOption {
            name: std::ptr::null(),
            has_arg: 0,
            flag: std::ptr::null_mut(),
            val: 0,
        });
        // SAFETY: the globals belong to glibc's getopt; we hold GETOPT_LOCK, so no other thread
        // of ours touches them. optind = 0 makes glibc re-initialise its whole internal state.
        unsafe {
            optind = 0;
            opterr = 1;
            optopt = 0;
            optarg = std::ptr::null_mut();
        }
        Getopt {
            strings,
            argv,
            shortopts: c_string(shortopts.as_bytes()),
            _long_names: long_names,
            longopts: raw,
            _lock: lock,
        }
    }

    fn argc(&self) -> c_int {
        c_int::try_from(self.argv.len() - 1).unwrap_or(c_int::MAX)
    }

    /// The next option, or `None` once glibc reports the end of the options.
    pub fn next_option(&mut self) -> Option<Found> {
        if self.argv.len() <= 1 {
            return None;
        }
        // SAFETY: argv is a null-terminated array of pointers to NUL-terminated strings owned by
        // self (`strings`); shortopts and the zero-terminated longopts table (names owned by
        // `_long_names`) live as long as self. glibc keeps pointers into argv between calls,
        // which stay valid because self is borrowed for every call and the lock is held.
        let code = unsafe {
            getopt_long(
                self.argc(),
                self.argv.as_mut_ptr().cast_const(),
                self.shortopts.as_ptr(),
                self.longopts.as_ptr(),
                std::ptr::null_mut(),
            )
        };
        if code == -1 {
            return None;
        }
        // SAFETY: optarg is null or points into one of our argv strings, still alive (see above).
        let argument = unsafe {
            let arg = optarg;
            if arg.is_null() {
                None
            } else {
                Some(CStr::from_ptr(arg).to_bytes().to_vec())
            }
        };
        Some(Found {
            option: u8::try_from(code).unwrap_or(b'?'),
            argument_at: argument
                .as_ref()
                .and_then(|_| self.locate(self.optarg_ptr())),
            argument,
        })
    }

    fn optarg_ptr(&self) -> *const c_char {
        // SAFETY: reading glibc's optarg while holding the lock.
        unsafe { optarg }
    }

    /// The argv element (original index) and offset that `p` points into, if any.
    fn locate(&self, p: *const c_char) -> Option<(usize, usize)> {
        let p = p as usize;
        self.strings.iter().enumerate().find_map(|(index, s)| {
            let start = s.as_ptr() as usize;
            let len = s.as_bytes_with_nul().len();
            (start..start + len)
                .contains(&p)
                .then(|| (index, p - start))
        })
    }

    /// The arguments glibc left after the options (argv[optind..], in permuted order).
    pub fn operands(&self) -> Vec<Vec<u8>> {
        // SAFETY: reading glibc's optind while holding the lock.
        let index = unsafe { optind };
        let start = usize::try_from(index).unwrap_or(0).max(1);
        let end = self.argv.len() - 1;
        (start..end)
            .map(|i| {
                // SAFETY: every argv[i] with i < argc is a pointer into one of our live CStrings
                // (glibc only reorders the array).
                unsafe { CStr::from_ptr(self.argv[i]) }.to_bytes().to_vec()
            })
            .collect()
    }
}

impl Drop for Getopt {
    /// The strings may hold a password: wiped before their memory goes back.
    fn drop(&mut self) {
        for s in std::mem::take(&mut self.strings) {
            let mut bytes = s.into_bytes_with_nul();
            super::memory::wipe(&mut bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: [LongOption; 2] = [
        LongOption {
            name: c"verbose",
            takes_argument: false,
            short: b'v',
        },
        LongOption {
            name: c"port",
            takes_argument: true,
            short: b'p',
        },
    ];

    fn run(args: &[&str]) -> (Vec<Found>, Vec<Vec<u8>>) {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let mut g = Getopt::new(&args, "vp:", &LONG);
        let mut found = Vec::new();
        while let Some(f) = g.next_option() {
            found.push(f);
        }
        (found, g.operands())
    }

    #[test]
    fn permutes_clusters_and_abbreviates() {
        let (found, rest) = run(&["prog", "host", "-vpX", "--verb", "--po=7", "extra"]);
        let got: Vec<(u8, Option<&[u8]>)> = found
            .iter()
            .map(|f| (f.option, f.argument.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (b'v', None),
                (b'p', Some(&b"X"[..])),
                (b'v', None),
                (b'p', Some(&b"7"[..]))
            ]
        );
        assert_eq!(rest, [b"host".to_vec(), b"extra".to_vec()]);
    }

    #[test]
    fn state_is_reset_between_runs() {
        let (_, rest) = run(&["prog", "-v", "a"]);
        assert_eq!(rest, [b"a".to_vec()]);
        let (found, rest) = run(&["prog", "b", "-p", "1"]);
        assert_eq!(
            found,
            [Found {
                option: b'p',
                argument: Some(b"1".to_vec()),
                argument_at: Some((3, 0)),
            }]
        );
        assert_eq!(rest, [b"b".to_vec()]);
    }

    #[test]
    fn arguments_are_located_in_the_original_argv() {
        let (found, _) = run(&[
            "prog", "host", "-vpX", "--po=7", "x", "--port", "8", "-p", "9",
        ]);
        let at: Vec<Option<(usize, usize)>> = found.iter().map(|f| f.argument_at).collect();
        assert_eq!(
            at,
            [None, Some((2, 3)), Some((3, 5)), Some((6, 0)), Some((8, 0))]
        );
    }

    #[test]
    fn errors_come_back_as_question_mark() {
        let (found, _) = run(&["prog", "-Z", "--nope", "-p"]);
        assert!(found.iter().all(|f| f.option == b'?'));
        assert_eq!(found.len(), 3);
    }

    #[test]
    fn empty_argv_ends_at_once() {
        let (found, rest) = run(&[]);
        assert!(found.is_empty() && rest.is_empty());
    }
}
