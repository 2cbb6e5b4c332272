const e = new DOMException('boom', 'AbortError');
assert(e instanceof Error, 'DOMException is an Error');
assertEq([e.name, e.message, e.code], ['AbortError', 'boom', 20], 'name, message, code');
assertEq(new DOMException().name, 'Error', 'default name');
assertEq(new DOMException('x', 'Whatever').code, 0, 'unknown names have code 0');
assertEq(DOMException.INVALID_CHARACTER_ERR, 5, 'legacy constant');
assertEq(DOMException.URL_MISMATCH_ERR, 21, 'legacy constant with an acronym');
assertEq(DOMException.DATA_CLONE_ERR, 25, 'legacy constant DATA_CLONE_ERR');
assertEq(String(e), 'AbortError: boom', 'toString');
