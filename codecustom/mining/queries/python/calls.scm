; Calls with the called name: f(...), obj.f(...).

(call
  function: [
    (identifier) @name
    (attribute attribute: (identifier) @name)
  ]) @call
