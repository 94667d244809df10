//! Where reports go: a file, or standard output (`-`), and whether they are colored.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anstream::stream::{AsLockedWrite, RawStream};
use anstream::{AutoStream, ColorChoice};
use anyhow::Context;

/// Opens the output: a file, or standard output for none or `-`.
pub(crate) fn open_output(output: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match output {
        Some(path) if path != Path::new("-") => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        _ => Box::new(BufWriter::new(io::stdout().lock())),
    })
}

/// Opens the output as [`open_output`] does, through anstream, and says whether to color what
/// is written to it. anstream decides `auto` from the stream and the environment as other
/// tools do (a terminal; NO_COLOR, CLICOLOR=0 and TERM=dumb turn it off, CLICOLOR_FORCE on),
/// and strips escape sequences from an output that gets no color.
pub(crate) fn open_colored_output(
    output: Option<&Path>,
    choice: ColorChoice,
) -> anyhow::Result<(Box<dyn Write>, bool)> {
    fn colored<S: RawStream + AsLockedWrite + 'static>(
        raw: S,
        choice: ColorChoice,
    ) -> (Box<dyn Write>, bool) {
        let stream = AutoStream::new(raw, choice);
        let color = stream.current_choice() != ColorChoice::Never;
        (Box::new(BufWriter::new(stream)), color)
    }
    Ok(match output {
        Some(path) if path != Path::new("-") => colored(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
            choice,
        ),
        _ => colored(io::stdout().lock(), choice),
    })
}
