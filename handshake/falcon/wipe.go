package falcon

// wipeExpanded zeroes the expanded signing key in place before Destroy drops
// it. The struct assignment clears every array held directly in expandedKey;
// if the signing code keeps parts of it behind slices or pointers, it should
// give expandedKey a wipe method that clears them, and this function calls it.
func wipeExpanded(e *expandedKey) {
	if w, ok := any(e).(interface{ wipe() }); ok {
		w.wipe()
	}
	*e = expandedKey{}
}
