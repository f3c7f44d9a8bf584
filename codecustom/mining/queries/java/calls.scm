; Calls: method invocations, constructor calls and method references (foo::bar).

(method_invocation
  name: (identifier) @name) @call

(object_creation_expression
  type: (_) @name) @new

(method_reference
  (_) @receiver
  .
  "::"
  .
  [(identifier) (type_identifier)] @name) @ref
