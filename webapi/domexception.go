package webapi

import "github.com/dop251/goja"

// domExceptionJS defines DOMException as Web IDL does: an Error subclass
// whose name selects the legacy numeric code.
const domExceptionJS = `(function () {
  const codes = { IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4,
    InvalidCharacterError: 5, NoModificationAllowedError: 7, NotFoundError: 8,
    NotSupportedError: 9, InvalidStateError: 11, SyntaxError: 12,
    InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20,
    URLMismatchError: 21, QuotaExceededError: 22, TimeoutError: 23,
    InvalidNodeTypeError: 24, DataCloneError: 25 };
  class DOMException extends Error {
    constructor(message = '', name = 'Error') {
      super(String(message));
      Object.defineProperty(this, 'name', { value: String(name), writable: true, configurable: true });
    }
    get code() { return codes[this.name] || 0; }
  }
  for (const [name, code] of Object.entries(codes)) {
    const constant = name.replace(/Error$/, '').replace(/^URL/, 'URL_').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase() + '_ERR';
    Object.defineProperty(DOMException, constant, { value: code, enumerable: true });
    Object.defineProperty(DOMException.prototype, constant, { value: code, enumerable: true });
  }
  return DOMException;
})()`

// domExceptionCtor returns the DOMException constructor, building it once.
func (a *api) domExceptionCtor() *goja.Object {
	if a.domException == nil {
		a.domException = a.run("webapi:DOMException", domExceptionJS).(*goja.Object)
	}
	return a.domException
}

// domError returns a DOMException with the given name ("InvalidCharacterError",
// "DataError", …) and message, for a native function to panic with or to
// reject a promise with.
func (a *api) domError(name, msg string) *goja.Object {
	o, err := a.vm.New(a.domExceptionCtor(), a.vm.ToValue(msg), a.vm.ToValue(name))
	if err != nil {
		panic(err)
	}
	return o
}
