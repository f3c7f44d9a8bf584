; Classes, functions (module functions and methods), imports and class-level assignments.

(class_definition) @class
(function_definition) @function

(import_statement) @import
(import_from_statement) @import
(future_import_statement) @import
(return_statement) @return
