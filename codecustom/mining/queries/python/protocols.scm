; Behaviour a test reaches through syntax rather than calls (python_sites.py turns each into the dunder that runs):
; operators, subscripts, iteration, with-blocks and attribute access.

(comparison_operator) @compare
(binary_operator) @binary
(unary_operator) @unary
(not_operator) @not
(augmented_assignment) @augmented
(subscript) @subscript
(for_statement right: (_) @iter)
(for_in_clause right: (_) @iter)
(with_item) @with
(attribute) @attribute
(decorator) @decorator
