package cron

import (
	"github.com/scriptrun/scriptrun/runtime"
	"github.com/scriptrun/scriptrun/store"
)

// CaptureScript reads the script file a job captures, as
// store.ReadJobScript does, and bundles a TypeScript or module script
// (runtime.NeedsBundle) with every file it imports, so the job runs what
// was reviewed even when those files change; the bundle's header lists the
// files and their SHA-256. Its error is a store.FieldErrors on "script".
func CaptureScript(path string, protected ...string) (src, clean string, err error) {
	src, clean, err = store.ReadJobScript(path, protected...)
	if err != nil || !runtime.NeedsBundle(clean, src) {
		return src, clean, err
	}
	b, err := runtime.BundleScript(clean, "")
	if err != nil {
		return "", "", store.FieldErrors{{Field: "script", Label: "script file", Message: "cannot be bundled: " + err.Error()}}
	}
	return b.Source, clean, nil
}
