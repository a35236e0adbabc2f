package realtime_test

import (
	"encoding/json"
	"reflect"
)

// equalJSON compares two values by their JSON encoding's decoded form.
func equalJSON(a, b any) bool {
	var x, y any
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	_ = json.Unmarshal(ja, &x)
	_ = json.Unmarshal(jb, &y)
	return reflect.DeepEqual(x, y)
}
