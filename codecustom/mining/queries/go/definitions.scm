; Types, functions and methods (the receiver's type is the method's class). No test mapping.

(type_spec name: (type_identifier) @name type: [(struct_type) (interface_type)]) @class
(function_declaration name: (identifier) @name) @function
(method_declaration name: (field_identifier) @name) @function
