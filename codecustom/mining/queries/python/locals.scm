; Name bindings whose value tells a variable's type: x = Foo(), self.x = Foo(), with Foo() as x, x: Foo = ...

(assignment
  left: [(identifier) (attribute object: (identifier) attribute: (identifier))] @var
  type: (_)? @type
  right: (_)? @value) @bind

(with_item
  value: (as_pattern
    (_) @value
    alias: (as_pattern_target (identifier) @var))) @bind

(typed_parameter
  (identifier) @var
  type: (_) @type) @bind

(typed_default_parameter
  name: (identifier) @var
  type: (_) @type) @bind
