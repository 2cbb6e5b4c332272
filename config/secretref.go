package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// MaxSecretFile bounds the file a {file: PATH} reference names: a secret is
// a line, and a larger file is a mistake (or an attempt to send some other
// file to a token URL).
const MaxSecretFile = 64 << 10

// SecretUse is one secret in a plan: where in the file it is referenced,
// where Apply reads it from and where scriptrun will send it. A plan lists
// every reference, and stored secrets that the file sends somewhere new, so
// that an admin reviewing `apply --dry-run` sees where each credential goes
// before anything is read or sent.
type SecretUse struct {
	Path   string   // where in the file, e.g. providers[2].clientSecret
	Kind   string   // "provider", "token" or "notifier"
	Name   string   // the provider's, token's or notifier's name
	Field  string   // clientSecret, password, apiKey, token, apiToken, apiSecret, credential, refresh token
	From   string   // "env VAR", "file /abs/path", or "stored" (kept from the home)
	SentTo []string // the provider's token (and revocation) URL; a static token's base URL; empty: any host
	Signs  bool     // a static credential: it signs requests to SentTo rather than being posted there
	Read   bool     // false when the reference was not read (a dry run)
}

func (u SecretUse) String() string {
	s := "secret " + u.Path + " (" + u.Kind + " " + u.Name + "): "
	if u.From == "stored" {
		s += "the stored " + u.Field + ", now "
	} else {
		s += "from " + u.From + ", "
	}
	dest := strings.Join(u.SentTo, " and ")
	switch {
	case u.Signs && dest == "":
		s += "signs requests to any host (the token has no baseUrl)"
	case u.Signs:
		s += "signs requests to " + dest
	default:
		s += "sent to " + dest
	}
	if u.From != "stored" && !u.Read {
		s += " (not read: dry run)"
	}
	return s
}

// secretRef is a checked reference: an environment variable's name or a
// file's absolute path. Checking it reads nothing.
type secretRef struct {
	env  string
	file string
}

func (r secretRef) String() string {
	if r.env != "" {
		return "env " + r.env
	}
	return "file " + r.file
}

var envName = lazy.Regexp{Expr: `^[A-Za-z_][A-Za-z0-9_]{0,127}$`}

// checkRef checks a reference's form. It never repeats an invalid variable
// name: people paste the secret itself there.
func checkRef(ref SecretRef, dir string) (secretRef, error) {
	switch {
	case ref.Env != "" && ref.File != "":
		return secretRef{}, errors.New("give env or file, not both")
	case ref.Env != "":
		if !envName.Get().MatchString(ref.Env) {
			return secretRef{}, errors.New("env is not a valid environment variable name (letters, digits and _, not starting with a digit): give the name of the variable that holds the secret, never the secret itself")
		}
		if strings.HasPrefix(strings.ToUpper(ref.Env), "SCRIPTRUN_") {
			return secretRef{}, fmt.Errorf("env %s: scriptrun's own variables (SCRIPTRUN_*) cannot be secrets: they hold scriptrun's master key and settings, which a configuration must not be able to send to a token URL; put the secret in a variable of its own", ref.Env)
		}
		return secretRef{env: ref.Env}, nil
	case ref.File != "":
		path := ref.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return secretRef{}, fmt.Errorf("file %s: %v", path, err)
		}
		return secretRef{file: abs}, nil
	}
	return secretRef{}, errors.New("give {env: VAR} or {file: PATH}; secrets are never written in the file itself")
}

// read returns the secret: the variable's value, or the file's content
// without its final line break.
func (r secretRef) read(opts Options) (string, error) {
	if r.env != "" {
		v := ""
		if opts.Getenv != nil {
			v = opts.Getenv(r.env)
		}
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty or not set: set it before running apply, or refer to a file with {file: PATH}", r.env)
		}
		return v, nil
	}
	b, err := readRegularFile(r.file, MaxSecretFile, opts.Protected)
	if err != nil {
		return "", err
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("file %s is empty: put the secret in it", r.file)
	}
	return v, nil
}

// readRegularFile reads path, which must be (after symlinks) a regular file
// of at most limit bytes and none of the protected files. It checks before
// opening, so a FIFO or device is never opened, and again on the open file,
// so a swap between the two checks is caught; the open does not block.
func readRegularFile(path string, limit int64, protected []string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	if err := checkRegular(path, fi, limit, protected); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fileErr(path, err)
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, fileErr(path, err)
	}
	if !os.SameFile(fi, opened) {
		return nil, fmt.Errorf("file %s changed while it was read: run apply again", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fileErr(path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("file %s is larger than %d KiB: give a file that holds only the secret", path, limit>>10)
	}
	return b, nil
}

func checkRegular(path string, fi fs.FileInfo, limit int64, protected []string) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("file %s is %s, not a regular file: give a file that holds the secret", path, fileKind(fi.Mode()))
	}
	if fi.Size() > limit {
		return fmt.Errorf("file %s is %d bytes, larger than %d KiB: give a file that holds only the secret", path, fi.Size(), limit>>10)
	}
	for _, p := range protected {
		if pi, err := os.Stat(p); err == nil && os.SameFile(fi, pi) {
			return fmt.Errorf("file %s is scriptrun's own %s: a configuration must not be able to send it to a token URL; put the secret in a file of its own", path, filepath.Base(p))
		}
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0, m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// fileErr says what went wrong with a referenced file without Go's
// operation prefix, and how to fix the usual cases.
func fileErr(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("file %s does not exist: create it, or fix the path (a relative path starts at the configuration file's folder)", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("file %s cannot be read (permission denied): make it readable by this user", path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("file %s: %v", path, err)
}
