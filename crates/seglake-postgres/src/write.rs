//! The snapshot's Parquet files: spooled ranges re-cut into fixed-size
//! batches and files, so equal rows give equal bytes; checksummed as they
//! are written.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

use crate::error::{PostgresError, Result};

/// Rows handed to the Parquet writer at a time. Page boundaries follow the
/// batches the writer is given, so they are cut at fixed row positions.
const WRITE_BATCH_ROWS: usize = 8192;

/// One Parquet file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// `part-00000.parquet`, `part-00001.parquet`, ...
    pub name: String,
    /// Rows in the file.
    pub rows: u64,
    /// The file's size.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// The files written and the SHA-256 of their bytes concatenated in name
/// order (what `cat part-*.parquet | sha256sum` prints).
pub(crate) struct Written {
    pub files: Vec<SnapshotFile>,
    pub sha256: String,
}

/// File and row group sizes, in rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub rows_per_file: usize,
    pub row_group_rows: usize,
}

/// Writes the spooled ranges, in order, as Parquet files in `dir`.
pub(crate) fn write_snapshot(
    spools: &[PathBuf],
    schema: &SchemaRef,
    dir: &Path,
    layout: Layout,
) -> Result<Written> {
    let mut out = Files::new(dir, schema.clone(), layout);
    let mut chunker = Rechunker::new(schema.clone());
    for spool in spools {
        let file = File::open(spool).map_err(PostgresError::io(spool))?;
        let reader = StreamReader::try_new(BufReader::new(file), None).map_err(|source| {
            PostgresError::Arrow {
                what: format!("reading {} back", spool.display()),
                source,
            }
        })?;
        for batch in reader {
            chunker.push(batch.map_err(|source| PostgresError::Arrow {
                what: format!("reading {} back", spool.display()),
                source,
            })?);
            while let Some(chunk) = chunker.take(out.next_chunk_rows())? {
                out.write(&chunk)?;
            }
        }
    }
    if let Some(rest) = chunker.take_rest()? {
        out.write(&rest)?;
    }
    out.finish()
}

/// Buffers batches of any size and hands out batches of the size asked.
struct Rechunker {
    schema: SchemaRef,
    pending: Vec<RecordBatch>,
    rows: usize,
}

impl Rechunker {
    fn new(schema: SchemaRef) -> Self {
        Rechunker {
            schema,
            pending: Vec::new(),
            rows: 0,
        }
    }

    fn push(&mut self, batch: RecordBatch) {
        self.rows += batch.num_rows();
        self.pending.push(batch);
    }

    /// `rows` rows, once that many are buffered.
    fn take(&mut self, rows: usize) -> Result<Option<RecordBatch>> {
        if self.rows < rows {
            return Ok(None);
        }
        let all = self.concat()?;
        let rest = all.slice(rows, all.num_rows() - rows);
        self.rows = rest.num_rows();
        self.pending = vec![rest];
        Ok(Some(all.slice(0, rows)))
    }

    /// Whatever is left, if anything.
    fn take_rest(&mut self) -> Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let all = self.concat()?;
        self.pending.clear();
        self.rows = 0;
        Ok(Some(all))
    }

    fn concat(&self) -> Result<RecordBatch> {
        concat_batches(&self.schema, &self.pending).map_err(|source| PostgresError::Arrow {
            what: "re-cutting batches".into(),
            source,
        })
    }
}

/// The part files: a new one every `rows_per_file` rows.
struct Files<'a> {
    dir: &'a Path,
    schema: SchemaRef,
    layout: Layout,
    properties: WriterProperties,
    current: Option<(ArrowWriter<Hashed>, String, usize)>,
    files: Vec<SnapshotFile>,
    /// Every byte of every file, in name order.
    all: Sha256,
}

impl<'a> Files<'a> {
    fn new(dir: &'a Path, schema: SchemaRef, layout: Layout) -> Self {
        // Fixed here, not taken from defaults that a parquet release could
        // change between a run and its reproduction.
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3).expect("valid level"),
            ))
            .set_max_row_group_row_count(Some(layout.row_group_rows))
            .set_max_row_group_bytes(None)
            .set_write_batch_size(1024)
            .build();
        Files {
            dir,
            schema,
            layout,
            properties,
            current: None,
            files: Vec::new(),
            all: Sha256::new(),
        }
    }

    /// Rows the next batch should hold: a full batch, or what fits in the
    /// current file.
    fn next_chunk_rows(&self) -> usize {
        let in_file = self.current.as_ref().map_or(0, |(_, _, rows)| *rows);
        WRITE_BATCH_ROWS.min(self.layout.rows_per_file - in_file)
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.current.is_none() {
            self.open()?;
        }
        let (writer, name, rows) = self.current.as_mut().expect("opened above");
        let path = self.dir.join(&*name);
        writer.write(batch).map_err(parquet_error(&path))?;
        *rows += batch.num_rows();
        if *rows == self.layout.rows_per_file {
            self.close()?;
        }
        Ok(())
    }

    fn open(&mut self) -> Result<()> {
        let name = format!("part-{:05}.parquet", self.files.len());
        let path = self.dir.join(&name);
        let file = File::create(&path).map_err(PostgresError::io(&path))?;
        let hashed = Hashed {
            inner: BufWriter::new(file),
            sha256: Sha256::new(),
            bytes: 0,
        };
        let writer =
            ArrowWriter::try_new(hashed, self.schema.clone(), Some(self.properties.clone()))
                .map_err(parquet_error(&path))?;
        self.current = Some((writer, name, 0));
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        let Some((writer, name, rows)) = self.current.take() else {
            return Ok(());
        };
        let path = self.dir.join(&name);
        let hashed = writer.into_inner().map_err(parquet_error(&path))?;
        let (sha256, bytes) = (hashed.sha256.finalize(), hashed.bytes);
        let file = hashed
            .inner
            .into_inner()
            .map_err(|e| PostgresError::io(&path)(e.into_error()))?;
        // Durable before the directory is renamed into place.
        file.sync_all().map_err(PostgresError::io(&path))?;
        self.files.push(SnapshotFile {
            name,
            rows: rows as u64,
            bytes,
            sha256: hex::encode(sha256),
        });
        Ok(())
    }

    /// Closes the last file; a snapshot without rows still gets one file,
    /// which holds the schema.
    fn finish(mut self) -> Result<Written> {
        if self.files.is_empty() && self.current.is_none() {
            self.open()?;
        }
        self.close()?;
        for file in &self.files {
            let path = self.dir.join(&file.name);
            hash_file(&path, &mut self.all)?;
        }
        Ok(Written {
            files: self.files,
            sha256: hex::encode(self.all.finalize()),
        })
    }
}

fn parquet_error(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> PostgresError + '_ {
    move |source| PostgresError::Parquet {
        path: path.display().to_string(),
        source,
    }
}

/// A writer that hashes and counts what passes through it.
struct Hashed {
    inner: BufWriter<File>,
    sha256: Sha256,
    bytes: u64,
}

impl Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn hash_file(path: &Path, sha256: &mut Sha256) -> Result<()> {
    let mut file = File::open(path).map_err(PostgresError::io(path))?;
    std::io::copy(&mut file, sha256).map_err(PostgresError::io(path))?;
    Ok(())
}

/// The SHA-256 of a snapshot directory's `part-*.parquet` files
/// concatenated in name order: what [`crate::SnapshotSummary::sha256`]
/// recorded, to check that a snapshot read later is the one a run took.
pub fn checksum(dir: &Path) -> Result<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(PostgresError::io(dir))? {
        let name = entry.map_err(PostgresError::io(dir))?.file_name();
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("part-") && name.ends_with(".parquet") {
            names.push(name);
        }
    }
    names.sort();
    let mut sha256 = Sha256::new();
    for name in names {
        hash_file(&dir.join(name), &mut sha256)?;
    }
    Ok(hex::encode(sha256.finalize()))
}
