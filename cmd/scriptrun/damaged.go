package main

import (
	"fmt"

	"github.com/scriptrun/scriptrun/store"
)

// stateDamaged is the state a list shows for a record that fails
// authentication or cannot be read: it is refused everywhere until it is
// restored or re-created.
const stateDamaged = "damaged"

// listDamaged splits the error of a list read (store.DamagedRecords): the
// damaged records are returned to be shown as rows, each with a warning on
// stderr that says what to do; any other error ends the command.
func (a *app) listDamaged(err error) ([]*store.RecordError, error) {
	damaged, other := store.DamagedRecords(err)
	if other != nil {
		return nil, storeErr(other)
	}
	for _, d := range damaged {
		fmt.Fprintf(a.stdio.Err, "warning: %v\n", d)
	}
	return damaged, nil
}

// mergeByName calls row for each of n listed records (ordered by name, the
// i-th named name(i)) and damagedRow for each damaged one, in name order.
func mergeByName(n int, name func(int) string, damaged []*store.RecordError, row func(int), damagedRow func(*store.RecordError)) {
	i := 0
	for _, d := range damaged {
		for ; i < n && name(i) < d.Name; i++ {
			row(i)
		}
		damagedRow(d)
	}
	for ; i < n; i++ {
		row(i)
	}
}
