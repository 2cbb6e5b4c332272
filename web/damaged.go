package web

import "github.com/scriptrun/scriptrun/store"

// damagedView is a record a list cannot show in full: it fails
// authentication or cannot be read, so it is refused everywhere until it is
// restored or re-created. Lists show it by name with the fix.
type damagedView struct {
	Kind, Name, Reason, Fix string
}

// splitDamaged turns the error of a list read into the damaged records to
// show (store.DamagedRecords) and any other error.
func splitDamaged(err error) ([]damagedView, error) {
	damaged, other := store.DamagedRecords(err)
	var out []damagedView
	for _, d := range damaged {
		out = append(out, damagedView{Kind: d.Kind, Name: d.Name, Reason: d.Reason, Fix: d.Fix()})
	}
	return out, other
}
