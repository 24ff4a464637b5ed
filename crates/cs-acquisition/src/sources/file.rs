//! The `file` datasource read once (`-dsn file:///path/or/glob*.log`): every matching file
//! in name order, gzip-compressed ones (`.gz`) decompressed on the fly.

use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::dsn::Dsn;
use crate::error::{Error, Result};
use crate::lines::{DEFAULT_MAX_LINE_LENGTH, for_each_line};
use crate::{Labels, OneShotSource, RawLine, ReadStats};

/// Read buffer size; large reads keep system calls off the profile.
const READ_BUFFER: usize = 256 * 1024;

/// Files read to their end, in order.
#[derive(Debug, Clone)]
pub struct FileSource {
    files: Vec<PathBuf>,
    labels: Labels,
    max_line_length: usize,
}

impl FileSource {
    /// Expands each pattern (a path or a glob); a pattern matching no file is an error, as
    /// upstream refuses a `-dsn` that names nothing.
    pub fn new(patterns: &[&str], labels: Labels) -> Result<FileSource> {
        let mut files = Vec::new();
        for pattern in patterns {
            let before = files.len();
            let paths = glob::glob(pattern).map_err(|source| Error::Pattern {
                pattern: (*pattern).to_owned(),
                source,
            })?;
            for entry in paths {
                let path = entry.map_err(|e| Error::Io {
                    path: e.path().to_path_buf(),
                    source: e.into(),
                })?;
                // Directories matched by a glob are not logs.
                if !path.is_dir() {
                    files.push(path);
                }
            }
            if files.len() == before {
                return Err(Error::NoMatchingFiles {
                    pattern: (*pattern).to_owned(),
                });
            }
        }
        Ok(FileSource {
            files,
            labels,
            max_line_length: DEFAULT_MAX_LINE_LENGTH,
        })
    }

    /// From `file://PATTERN[?max_buffer_size=N&log_level=L]`.
    pub fn from_dsn(dsn: &Dsn, labels: Labels) -> Result<FileSource> {
        if dsn.target().is_empty() {
            return Err(Error::InvalidDsn {
                dsn: dsn.as_str().to_owned(),
                reason: "empty file name".to_owned(),
            });
        }
        let mut max_line_length = DEFAULT_MAX_LINE_LENGTH;
        for (key, value) in dsn.params() {
            match key.as_str() {
                "max_buffer_size" => {
                    max_line_length = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| dsn.parameter_error(key, "expected a positive integer"))?;
                }
                // The agent's log level is global here; the parameter is accepted for
                // compatibility with upstream's DSNs.
                "log_level" => {}
                _ => return Err(dsn.parameter_error(key, "unknown parameter")),
            }
        }
        let mut source = FileSource::new(&[dsn.target()], labels)?;
        source.max_line_length = max_line_length;
        Ok(source)
    }

    /// Lines longer than this many bytes are skipped.
    pub fn with_max_line_length(mut self, max: usize) -> Self {
        self.max_line_length = max.max(1);
        self
    }

    /// The files that will be read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

fn open(path: &Path) -> Result<Box<dyn Read>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Ok(Box::new(file))
    }
}

impl OneShotSource for FileSource {
    fn module(&self) -> &'static str {
        "file"
    }

    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn read_all(
        &mut self,
        sink: &mut dyn FnMut(RawLine<'_>) -> ControlFlow<()>,
    ) -> Result<ReadStats> {
        let mut stats = ReadStats::default();
        for path in &self.files {
            let src = path.to_string_lossy();
            let reader = BufReader::with_capacity(READ_BUFFER, open(path)?);
            stats.inputs += 1;
            let before = stats;
            let flow = for_each_line(reader, self.max_line_length, &mut stats, &mut |raw| {
                sink(RawLine { raw, src: &src })
            })
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            tracing::debug!(
                file = %src,
                lines = stats.lines - before.lines,
                skipped = stats.skipped() - before.skipped(),
                "file read"
            );
            if flow.is_break() {
                break;
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn collect(source: &mut dyn OneShotSource) -> (Vec<(String, String)>, ReadStats) {
        let mut lines = Vec::new();
        let stats = source
            .read_all(&mut |l| {
                let name = Path::new(l.src).file_name().unwrap().to_string_lossy();
                lines.push((name.into_owned(), l.raw.to_owned()));
                ControlFlow::Continue(())
            })
            .unwrap();
        (lines, stats)
    }

    #[test]
    fn globs_read_every_file_in_order_including_gzip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.log"), "b1\nb2\n").unwrap();
        std::fs::write(dir.path().join("a.log"), b"a1\n\xff\n").unwrap();
        let mut gz = flate2::write::GzEncoder::new(
            File::create(dir.path().join("c.log.gz")).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(b"c1\nc2").unwrap();
        gz.finish().unwrap();
        std::fs::create_dir(dir.path().join("d.log")).unwrap();

        let dsn = format!("file://{}/*.log*", dir.path().display());
        let mut source = crate::from_dsn(&dsn, Labels::new()).unwrap();
        let (lines, stats) = collect(source.as_mut());
        let want = [
            ("a.log", "a1"),
            ("b.log", "b1"),
            ("b.log", "b2"),
            ("c.log.gz", "c1"),
            ("c.log.gz", "c2"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(lines, want);
        assert_eq!(stats.lines, 5);
        assert_eq!(stats.invalid_utf8, 1);
        assert_eq!(stats.inputs, 3);
    }

    #[test]
    fn max_buffer_size_bounds_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, format!("short\n{}\n", "z".repeat(100))).unwrap();
        let dsn = format!(
            "file://{}?max_buffer_size=10&log_level=info",
            path.display()
        );
        let mut source = crate::from_dsn(&dsn, Labels::new()).unwrap();
        let (lines, stats) = collect(source.as_mut());
        assert_eq!(lines.len(), 1);
        assert_eq!(stats.too_long, 1);
    }

    #[test]
    fn bad_dsns_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("file://{}/nothing*.log", dir.path().display());
        assert!(matches!(
            crate::from_dsn(&missing, Labels::new()),
            Err(Error::NoMatchingFiles { .. })
        ));
        let path = dir.path().join("x.log");
        std::fs::write(&path, "x\n").unwrap();
        for query in ["?nope=1", "?max_buffer_size=0", "?max_buffer_size=big"] {
            let dsn = format!("file://{}{query}", path.display());
            assert!(
                matches!(
                    crate::from_dsn(&dsn, Labels::new()),
                    Err(Error::Parameter { .. })
                ),
                "{query}"
            );
        }
        assert!(matches!(
            crate::from_dsn("file://", Labels::new()),
            Err(Error::InvalidDsn { .. })
        ));
    }
}
