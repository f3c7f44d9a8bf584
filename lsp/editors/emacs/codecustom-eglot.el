;;; codecustom-eglot.el --- codecustom language server with eglot  -*- lexical-binding: t; -*-

;; eglot runs one server per major mode: this makes codecustom *the* server for these modes.
;; Use codecustom-lsp-mode.el instead to run it next to another server (lsp-mode add-on).

(require 'eglot)

(add-to-list 'eglot-server-programs
             `((python-mode python-ts-mode java-mode java-ts-mode js-mode js-ts-mode
                typescript-mode typescript-ts-mode go-mode go-ts-mode)
               . ("codecustom" "lsp"
                  :initializationOptions (:lsp (:debounce_ms 150 :max_new_tokens 48)))))

(defun codecustom-generate-tests ()
  "Generate unit tests for the function at point (applied as a workspace edit)."
  (interactive)
  (let ((server (eglot--current-server-or-lose)))
    (eglot-execute-command server "codecustom.generateTests"
                           (vector (eglot--path-to-uri (buffer-file-name)) (eglot--pos-to-lsp-position)))))

;; Completions come through completion-at-point (company / corfu show them).
;; Settings changed at run time: M-x eglot-signal-didChangeConfiguration with
;; (setq-default eglot-workspace-configuration '(:codecustom (:debounce_ms 300)))

(provide 'codecustom-eglot)
;;; codecustom-eglot.el ends here
