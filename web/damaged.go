package web

import (
	"errors"

	"github.com/scriptrun/scriptrun/store"
)

// damagedView is a record a list cannot show in full: it fails
// authentication or cannot be read, so it is refused everywhere until it is
// restored or re-created. Lists show it by name with the fix.
type damagedView struct {
	Kind, Name, Reason, Fix string
	Delete                  string // the page that deletes it, to re-create it
}

// splitDamaged turns the error of a list read into the damaged records to
// show (store.DamagedRecords) and any other error.
func splitDamaged(err error) ([]damagedView, error) {
	damaged, other := store.DamagedRecords(err)
	var out []damagedView
	for _, d := range damaged {
		v := damagedView{Kind: d.Kind, Name: d.Name, Reason: d.Reason, Fix: d.Fix()}
		switch d.Kind {
		case "token":
			v.Delete = "/tokens/" + d.Name + "/delete"
		case "provider":
			v.Delete = "/providers/" + d.Name + "/delete"
		case "job":
			v.Delete = "/cron/" + d.Name + "/delete"
		}
		out = append(out, v)
	}
	return out, other
}

// damagedRecord returns err's damaged record, if that is what err is.
func damagedRecord(err error) *store.RecordError {
	var re *store.RecordError
	if errors.As(err, &re) {
		return re
	}
	return nil
}
