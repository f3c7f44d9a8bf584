; Typed names visible inside a method: locals, parameters, for-each and catch variables, resources.

(local_variable_declaration
  type: (_) @type
  declarator: (variable_declarator
    name: (identifier) @var
    value: (_)? @value)) @decl

(formal_parameter
  type: (_) @type
  name: (identifier) @var) @decl

(spread_parameter
  (_) @type
  (variable_declarator name: (identifier) @var)) @decl

(enhanced_for_statement
  type: (_) @type
  name: (identifier) @var) @decl

(catch_formal_parameter
  (catch_type) @type
  name: (identifier) @var) @decl

(resource
  type: (_) @type
  name: (identifier) @var
  value: (_) @value) @decl
