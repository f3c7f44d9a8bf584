; Type declarations, members and file-level declarations of a Java file.
; Captured once per file; the extractor nests them by byte range.

(class_declaration) @type
(interface_declaration) @type
(enum_declaration) @type
(record_declaration) @type
(annotation_type_declaration) @type

(method_declaration) @method
(constructor_declaration) @constructor
(compact_constructor_declaration) @constructor

(field_declaration) @field
(constant_declaration) @field

(package_declaration) @package
(import_declaration) @import
