package cifar10

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pkg/errors"
)

// Names of the files of the official binary layout.
const (
	batchesDir = "cifar-10-batches-bin"
	metaFile   = "batches.meta.txt"
	testFile   = "test_batch.bin"
)

// officialBatchSize is the size of each batch file of the official archive.
const officialBatchSize = 10000 * RecordLen

var trainFiles = [...]string{
	"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin",
}

// Load reads the data set from path, which is either the cifar-10-binary.tar.gz
// archive (read as a stream, nothing is extracted) or a directory holding the
// extracted files, directly or in a cifar-10-batches-bin subdirectory.
// Every batch file and batches.meta.txt must be present and well formed.
func Load(path string) (*Dataset, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, errors.Wrap(err, "cifar10")
	}
	if fi.IsDir() {
		sub := filepath.Join(path, batchesDir)
		if st, err := os.Stat(sub); err == nil && st.IsDir() {
			path = sub
		}
		return loadDir(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "cifar10")
	}
	defer f.Close()
	return readArchive(f, path)
}

// files collects the parsed members of the layout, wherever they come from.
type files struct {
	// train holds the training batches that arrived in order (the usual
	// case), appended in place so the 150 MB are not copied once more.
	train   Set
	inTrain int                   // number of trainFiles in train
	early   [len(trainFiles)]*Set // batches that arrived before their predecessors
	test    *Set
	meta    bool
}

// want reports whether base names a member of the layout.
func want(base string) bool {
	if base == metaFile || base == testFile {
		return true
	}
	return trainIndex(base) >= 0
}

func trainIndex(base string) int {
	for i, n := range trainFiles {
		if base == n {
			return i
		}
	}
	return -1
}

// add parses one member; name is used in error messages.
func (fs *files) add(base, name string, r io.Reader, size int64) error {
	switch base {
	case metaFile:
		if size > 1<<16 { // the real file has 61 bytes; refuse to slurp garbage
			return errors.Errorf("%s: %d bytes is too large for the class names file", name, size)
		}
		data, err := io.ReadAll(io.LimitReader(r, size))
		if err != nil {
			return errors.Wrap(err, name)
		}
		if err := checkMeta(data, name); err != nil {
			return err
		}
		fs.meta = true
		return nil
	case testFile:
		fs.test = &Set{}
		return readRecords(r, size, name, fs.test)
	}
	k := trainIndex(base)
	if k != fs.inTrain {
		fs.early[k] = &Set{}
		return readRecords(r, size, name, fs.early[k])
	}
	if fs.train.Pixels == nil && size == officialBatchSize {
		// Make room for the whole official training set at once. Only then:
		// a size from a damaged tar header must not trigger a huge allocation.
		fs.train.Pixels = make([]byte, 0, TrainImages*ImageLen)
		fs.train.Labels = make([]uint8, 0, TrainImages)
	}
	if err := readRecords(r, size, name, &fs.train); err != nil {
		return err
	}
	for fs.inTrain++; fs.inTrain < len(trainFiles) && fs.early[fs.inTrain] != nil; fs.inTrain++ {
		fs.train.Pixels = append(fs.train.Pixels, fs.early[fs.inTrain].Pixels...)
		fs.train.Labels = append(fs.train.Labels, fs.early[fs.inTrain].Labels...)
		fs.early[fs.inTrain] = nil
	}
	return nil
}

// dataset checks that every member was seen; where names the directory or
// archive for error messages.
func (fs *files) dataset(where string) (*Dataset, error) {
	if !fs.meta {
		return nil, errors.Errorf("cifar10: %s: %s is missing", where, metaFile)
	}
	if fs.test == nil {
		return nil, errors.Errorf("cifar10: %s: %s is missing", where, testFile)
	}
	if fs.inTrain < len(trainFiles) {
		return nil, errors.Errorf("cifar10: %s: %s is missing", where, trainFiles[fs.inTrain])
	}
	return &Dataset{Train: &fs.train, Test: fs.test}, nil
}

func loadDir(dir string) (*Dataset, error) {
	var fs files
	names := append([]string{metaFile, testFile}, trainFiles[:]...)
	for _, base := range names {
		name := filepath.Join(dir, base)
		if err := loadFile(&fs, base, name); err != nil {
			return nil, err
		}
	}
	return fs.dataset(dir)
}

func loadFile(fs *files, base, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return errors.Wrap(err, "cifar10")
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return errors.Wrap(err, "cifar10")
	}
	return errors.WithMessage(fs.add(base, name, f, fi.Size()), "cifar10")
}

// countingReader counts the compressed bytes consumed, so errors from a
// corrupted stream can say roughly where it broke.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readArchive reads the layout from a gzipped tar stream; name is the archive's
// name for error messages.
func readArchive(r io.Reader, name string) (*Dataset, error) {
	cr := &countingReader{r: r}
	zr, err := gzip.NewReader(bufio.NewReaderSize(cr, 1<<20))
	if err != nil {
		return nil, errors.Wrapf(err, "cifar10: %s: not a gzip stream", name)
	}
	broken := func(err error, what string) error {
		return errors.Wrapf(err, "cifar10: %s: corrupted archive (%s, near compressed byte %d)", name, what, cr.n)
	}
	var fs files
	seen := map[string]bool{}
	tr := tar.NewReader(zr)
	last := "start of archive"
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, broken(err, "reading the tar header after "+last)
		}
		last = hdr.Name
		base := path.Base(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || !want(base) {
			continue // the official archive also holds readme.html
		}
		if seen[base] {
			return nil, errors.Errorf("cifar10: %s: %s appears twice", name, hdr.Name)
		}
		seen[base] = true
		member := &errorRecorder{r: tr}
		if err := fs.add(base, name+": "+hdr.Name, member, hdr.Size); err != nil {
			if member.err != nil && member.err != io.EOF {
				return nil, errors.WithMessagef(err, "cifar10: corrupted archive (near compressed byte %d)", cr.n)
			}
			return nil, errors.WithMessage(err, "cifar10")
		}
	}
	// tar stops at its end-of-archive marker; gzip verifies its CRC only at the
	// end of the stream, so drain it or a flipped bit would go unnoticed.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, broken(err, "after the last tar entry")
	}
	return fs.dataset(name)
}

// errorRecorder remembers the last read error, so a failure while parsing a
// member can be told apart: a broken stream (corrupted archive) or bad content.
type errorRecorder struct {
	r   io.Reader
	err error
}

func (e *errorRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// readRecords parses size bytes of records from r and appends them to dst;
// name is the file's name for error messages, which also give the record and
// its byte offset.
func readRecords(r io.Reader, size int64, name string, dst *Set) error {
	if size <= 0 {
		return errors.Errorf("%s: holds no records", name)
	}
	if size%RecordLen != 0 {
		return errors.Errorf("%s: size %d is not a whole number of %d-byte records (%d records and %d bytes over)",
			name, size, RecordLen, size/RecordLen, size%RecordLen)
	}
	// Records are read many per call (one io.ReadFull per record would go
	// through tar and gzip for every 3 kB). Beyond the official file size dst
	// grows only as records arrive, so a size from a damaged header cannot make
	// us allocate it up front.
	n := size / RecordLen
	base := dst.Len()
	if size <= officialBatchSize { // at most 30 MB: allocate once
		dst.Pixels = slices.Grow(dst.Pixels, int(n)*ImageLen)
		dst.Labels = slices.Grow(dst.Labels, int(n))
	}
	const chunk = 256
	buf := make([]byte, min(n, chunk)*RecordLen)
	for first := 0; int64(first) < n; first += chunk {
		count := int(min(n-int64(first), chunk))
		b := buf[:count*RecordLen]
		if got, err := io.ReadFull(r, b); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			rec := first + got/RecordLen
			return errors.Wrapf(err, "%s: ends early at byte offset %d, inside record %d", name, int64(first)*RecordLen+int64(got), rec)
		}
		end := base + first + count
		dst.Pixels = slices.Grow(dst.Pixels, count*ImageLen)[:end*ImageLen]
		dst.Labels = slices.Grow(dst.Labels, count)[:end]
		for k := range count {
			rec := b[k*RecordLen : (k+1)*RecordLen]
			i := first + k
			if rec[0] >= NumClasses {
				return errors.Errorf("%s: record %d (byte offset %d): label %d is not a class (0-%d)",
					name, i, int64(i)*RecordLen, rec[0], NumClasses-1)
			}
			dst.Labels[base+i] = rec[0]
			copy(dst.Pixels[(base+i)*ImageLen:], rec[1:])
		}
	}
	return nil
}

// checkMeta checks that data lists the ten class names in label order, one a
// line; blank lines and surrounding spaces (the official file ends in a blank
// line) are ignored.
func checkMeta(data []byte, name string) error {
	var got []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			got = append(got, line)
		}
	}
	if len(got) != NumClasses {
		return errors.Errorf("%s: has %d class names, want %d (%s)", name, len(got), NumClasses, strings.Join(ClassNames[:], " "))
	}
	for i, g := range got {
		if g != ClassNames[i] {
			return errors.Errorf("%s: class %d is %q, want %q", name, i, clip(g), ClassNames[i])
		}
	}
	return nil
}

// clip shortens garbage before it goes into an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
