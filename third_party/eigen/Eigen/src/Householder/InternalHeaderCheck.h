#ifndef EIGEN_HOUSEHOLDER_MODULE_H
#error "Please include Eigen/Householder instead of including headers inside the src directory directly."
#endif
